"""Adafactor: a second moment factored into row and column averages."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxopt_lab.optimizers.plumbing import (
    ScalarOrSchedule,
    elementwise_optimizer,
    squared_magnitude,
)
from jaxopt_lab.optimizers.validation import (
    check_choice,
    check_count,
    check_eps,
    check_hyperparameter,
    hyperparameters,
    is_concrete_zero,
)

_FACTORED_DIMS = ("last_two", "two_largest")
_DECAY_FORMS = ("lr_scaled", "unscaled", "lr_scaled_first")


class AdafactorState(NamedTuple):
    """State of :func:`adafactor`.

    For a factored leaf, ``row_moment`` and ``column_moment`` hold the running
    means of ``g**2 + eps1`` over the leaf's second and first factored axis
    (torch's ``row_var`` and ``col_var``, Keras's ``r`` and ``c``) and
    ``second_moment`` is empty; for any other leaf, ``second_moment`` holds the
    running ``g**2 + eps1`` and the other two are empty (shape ``(0,)``).
    """

    count: jax.Array
    row_moment: Any
    column_moment: Any
    second_moment: Any


def factored_axes(
    shape: tuple[int, ...], min_dim_size_to_factor: int, factored_dims: str
) -> tuple[int, int] | None:
    """The two axes whose second moment is factored, in increasing order, or ``None``.

    ``"last_two"``: the last two axes (torch, Keras); ``"two_largest"``: the
    two largest (optax). ``None`` below two dimensions, or where the smaller
    of the two axes is shorter than ``min_dim_size_to_factor``.
    """
    if len(shape) < 2:
        return None
    if factored_dims == "last_two":
        axes = (len(shape) - 2, len(shape) - 1)
    else:
        order = np.argsort(shape)
        axes = tuple(sorted((int(order[-2]), int(order[-1]))))
    if min(shape[axis] for axis in axes) < min_dim_size_to_factor:
        return None
    return axes


@hyperparameters("learning_rate", "decay_rate", "eps1", "eps2", "weight_decay")
def adafactor(
    learning_rate: ScalarOrSchedule = 0.01,
    decay_rate: float = 0.8,
    eps1: float | None = None,
    eps2: float = 1e-3,
    clipping_threshold: float | None = 1.0,
    weight_decay: float = 0.0,
    *,
    relative_step: bool = True,
    multiply_by_parameter_scale: bool = True,
    eps1_as_floor: bool = False,
    min_dim_size_to_factor: int = 0,
    factored_dims: str = "last_two",
    decay_form: str = "lr_scaled",
    maximize: bool = False,
    state_dtype: Any = None,
) -> optax.GradientTransformationExtraArgs:
    """Adafactor.

    t is the 1-based step, ``beta_t = 1 - t**(-decay_rate)``. For a leaf whose
    second moment is factored (every leaf of 2+ dimensions by default, over
    its last two axes), with row means over the last axis and column means
    over the one before::

        R = beta_t * R + (1 - beta_t) * row_mean(g**2 + eps1)
        C = beta_t * C + (1 - beta_t) * column_mean(g**2 + eps1)
        V = (R / mean(R)) outer C

    and for any other leaf ``V = beta_t * V + (1 - beta_t) * (g**2 + eps1)``.
    Then::

        u = g / sqrt(V);  u_hat = u / max(1, rms(u) / clipping_threshold)
        rho_t = min(lr, 1 / sqrt(t))              (lr when relative_step=False)
        alpha_t = max(eps2, rms(p)) * rho_t       (rho_t when not multiply_by_parameter_scale)
        p -= alpha_t * u_hat + lr * weight_decay * p

    ``clipping_threshold=None`` skips the clipping. ``eps1=None`` is 1e-30
    (the paper's). With ``eps1_as_floor`` (torch) nothing is added to
    ``g**2``; eps1 floors ``mean(R)`` and ``V`` becomes ``max(V, eps1**2)``;
    ``eps1=None`` is then the dtype's machine epsilon (torch's default).
    ``decay_form``: ``"lr_scaled"`` as above (torch); ``"unscaled"``: ``-
    weight_decay * p``, not scaled by any rate (optax's ``weight_decay_rate``);
    ``"lr_scaled_first"``: ``p -= lr * weight_decay * p`` as a step of its
    own before the rest, so rms(p) sees the decayed weights (Keras).
    ``update`` needs params unless ``multiply_by_parameter_scale=False`` and
    ``weight_decay=0``. ``maximize`` as in ``plumbing``; complex params use
    ``|g|**2`` (optax's ``abs_sq``).

    Defaults are the paper's (its Algorithm 4 with beta1 = 0: rho_t = min(1e-2,
    1/sqrt(t)), decay 0.8, eps1 1e-30 added to g**2, eps2 1e-3, d = 1), which
    torch's ``Adafactor(lr=1e-2)`` follows except for eps1:
    ``torch.optim.Adafactor(lr, beta2_decay=-c, eps=(e1, e2), d=d,
    weight_decay=wd)`` is ``adafactor(lr, c, e1, e2, d, wd,
    eps1_as_floor=True)``. Keras ``Adafactor(lr, beta_2_decay=-c, epsilon_1=e1,
    epsilon_2=e2, clip_threshold=d, weight_decay=wd)`` is ``adafactor(lr, c,
    e1, e2, d, wd, decay_form="lr_scaled_first")`` (Keras applies the
    relative step whether or not ``relative_step=True``). optax
    ``adafactor(lr, min_dim_size_to_factor=k, decay_rate=c, eps=e1,
    clipping_threshold=d, weight_decay_rate=wd)`` is ``adafactor(lr, c, e1,
    1e-3, d, wd, relative_step=False, min_dim_size_to_factor=k,
    factored_dims="two_largest", decay_form="unscaled")``; optax's default
    ``learning_rate=None`` is ``lr=1``: a step of rms(p) per step. optax's
    ``momentum`` and ``decay_offset`` have no counterpart here.
    Shazeer and Stern (2018), "Adafactor: adaptive learning rates with
    sublinear memory cost".
    """
    check_hyperparameter("learning_rate", learning_rate)
    check_hyperparameter("decay_rate", decay_rate)
    if eps1 is not None:
        check_eps("eps1", eps1, denominator="sqrt(V)")
    check_hyperparameter("eps2", eps2)
    check_hyperparameter("clipping_threshold", clipping_threshold, optional=True)
    check_hyperparameter("weight_decay", weight_decay)
    check_choice("factored_dims", factored_dims, _FACTORED_DIMS)
    check_choice("decay_form", decay_form, _DECAY_FORMS)
    check_count("min_dim_size_to_factor", min_dim_size_to_factor)
    decays = not is_concrete_zero(weight_decay)

    def axes_of(leaf):
        return factored_axes(jnp.shape(leaf), min_dim_size_to_factor, factored_dims)

    def row_moment(param):
        axes = axes_of(param)
        return jnp.zeros((0,)) if axes is None else jnp.zeros_like(jnp.sum(param, axes[1]))

    def column_moment(param):
        axes = axes_of(param)
        return jnp.zeros((0,)) if axes is None else jnp.zeros_like(jnp.sum(param, axes[0]))

    def second_moment(param):
        return jnp.zeros((0,)) if axes_of(param) is not None else jnp.zeros_like(param)

    def rms(x):
        return jnp.sqrt(jnp.mean(squared_magnitude(x)))

    def rule(grad, state, param, step_size):
        if grad.size == 0:
            return jnp.zeros_like(grad), state
        real = grad.real.dtype
        t = state.count.astype(jnp.promote_types(real, jnp.float32)) + 1
        beta = (1 - t ** (-decay_rate)).astype(real)
        if eps1 is None:
            eps = jnp.finfo(real).eps if eps1_as_floor else 1e-30
        else:
            eps = eps1
        squared = squared_magnitude(grad) if eps1_as_floor else squared_magnitude(grad) + eps
        axes = axes_of(grad)
        if axes is not None:
            first, second = axes
            rows = beta * state.row_moment + (1 - beta) * jnp.mean(squared, axis=second)
            columns = beta * state.column_moment + (1 - beta) * jnp.mean(squared, axis=first)
            mean = jnp.mean(rows, axis=first, keepdims=True)
            if eps1_as_floor:
                mean = jnp.maximum(mean, eps)
            variance = jnp.expand_dims(rows / mean, second) * jnp.expand_dims(columns, first)
            state = state._replace(row_moment=rows, column_moment=columns)
        else:
            variance = beta * state.second_moment + (1 - beta) * squared
            state = state._replace(second_moment=variance)
        if eps1_as_floor:
            variance = jnp.maximum(variance, eps * eps)
        direction = grad / jnp.sqrt(variance)
        if clipping_threshold is not None:
            direction = direction / jnp.maximum(1, rms(direction) / clipping_threshold)

        decay = step_size * weight_decay * param if decay_form != "unscaled" else None
        if decay_form == "lr_scaled_first" and decays:
            param = param - decay
        step = jnp.minimum(step_size, jax.lax.rsqrt(t)) if relative_step else step_size
        if multiply_by_parameter_scale:
            step = jnp.maximum(eps2, rms(param)) * step
        update = -step * direction
        if decays:
            update = update - (weight_decay * param if decay_form == "unscaled" else decay)
        return update, state

    return elementwise_optimizer(
        rule,
        AdafactorState,
        {
            "row_moment": row_moment,
            "column_moment": column_moment,
            "second_moment": second_moment,
        },
        learning_rate,
        state_dtype=state_dtype,
        needs_params=multiply_by_parameter_scale or decays,
        real_fields=("row_moment", "column_moment", "second_moment"),
        maximize=maximize,
    )
