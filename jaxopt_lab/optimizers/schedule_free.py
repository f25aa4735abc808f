"""Schedule-free AdamW: interpolation and averaging in place of momentum and a schedule."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
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
)

_DECAY_POINTS = ("y", "z", "params")


class ScheduleFreeState(NamedTuple):
    """State of :func:`schedule_free_adamw`.

    ``z``: the base sequence (it starts at the params). ``second_moment``:
    Adam's v. The rest are scalars, the same in every leaf (each leaf's rule
    keeps its own copy): ``weight_sum``, the sum of the averaging weights so
    far; ``max_step_size``, the largest step size so far; ``b1``, the
    interpolation, kept for :func:`schedule_free_eval_params`.
    """

    count: jax.Array
    z: Any
    second_moment: Any
    weight_sum: Any
    max_step_size: Any
    b1: Any


@hyperparameters("learning_rate", "b1", "b2", "eps", "weight_decay", "r", "weight_lr_power")
def schedule_free_adamw(
    learning_rate: ScalarOrSchedule = 0.0025,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    *,
    warmup_steps: int = 0,
    r: float = 0.0,
    weight_lr_power: float = 2.0,
    eps_hat: bool = True,
    decay_point: str = "y",
    lagged_warmup: bool = False,
    maximize: bool = False,
    state_dtype: Any = None,
) -> optax.GradientTransformationExtraArgs:
    """Schedule-free AdamW.

    The params are ``y``, where gradients are taken; ``z`` starts at the
    params; ``x = (y - (1 - b1) * z) / b1`` is the average to evaluate (see
    :func:`schedule_free_eval_params`). With t the 1-based step and
    ``v += (1 - b2) * (g**2 - v)`` from 0::

        lr_t = lr * min(1, t / warmup_steps) * sqrt(1 - b2**t)
        z' = z - lr_t * (g / (sqrt(v) + eps) + weight_decay * y)
        w_t = t**r * max(lr_1, ..., lr_t)**weight_lr_power;  c = w_t / (w_1 + ... + w_t)
        x' = (1 - c) * x + c * z';  y' = b1 * x' + (1 - b1) * z'

    With ``eps_hat=False`` (optax, Keras) the bias correction moves inside
    the square root, ``g / (sqrt(v / (1 - b2**t)) + eps)``, and out of lr_t
    (and so of the weights). ``decay_point``: ``"y"`` as above; ``"z"``,
    ``weight_decay * z`` instead (the reference's ``decay_at_z``);
    ``"params"``, ``y`` itself is decayed first, ``y -= lr * weight_decay *
    y``, outside z (Keras's ``weight_decay``). ``lagged_warmup``: the warmup
    factor of the z step uses t - 1, the weights' t (optax, whose inner
    optimizer counts from 0 and whose weights count from 1). ``update``
    needs params; ``maximize`` as in ``plumbing``.

    Defaults are the reference implementation's (``facebookresearch/
    schedule_free``, ``AdamWScheduleFreeReference``: lr 0.0025, betas (0.9,
    0.999), eps 1e-8, no decay, no warmup, r 0, weight_lr_power 2), which
    follows the paper's Algorithm 1; torch has no schedule-free optimizer.
    optax ``contrib.schedule_free_adamw(lr, warmup_steps, b1, b2, eps,
    weight_decay, weight_lr_power)`` is ``schedule_free_adamw(lr, b1, b2, eps,
    weight_decay, warmup_steps=..., weight_lr_power=..., eps_hat=False,
    lagged_warmup=True)``. Keras ``ScheduleFreeAdamW(lr, beta_1, beta_2,
    epsilon, warmup_steps, weight_decay=wd)`` is ``schedule_free_adamw(lr,
    beta_1, beta_2, epsilon, wd, warmup_steps=..., weight_lr_power=0,
    eps_hat=False, decay_point="params")``: Keras averages with c = 1/t,
    whatever the warmup.
    Defazio et al. (2024), "The road less scheduled".
    """
    check_hyperparameter("learning_rate", learning_rate)
    check_hyperparameter("b1", b1, high=1.0)
    if _is_concrete_number(b1) and b1 <= 0:
        raise ValueError(f"b1 must be in (0, 1), got {b1!r} (x is recovered by dividing by b1)")
    check_hyperparameter("b2", b2, high=1.0)
    check_eps("eps", eps, denominator="sqrt(v) + eps")
    check_hyperparameter("weight_decay", weight_decay)
    check_hyperparameter("r", r)
    check_hyperparameter("weight_lr_power", weight_lr_power)
    check_choice("decay_point", decay_point, _DECAY_POINTS)
    check_count("warmup_steps", warmup_steps)

    def warmup(t):
        return jnp.minimum(1, t / warmup_steps) if warmup_steps else 1

    def rule(grad, state, param, step_size):
        y = param
        real = grad.real.dtype
        wide = jnp.promote_types(real, jnp.float32)
        t = state.count.astype(wide) + 1
        correction2 = 1 - b2**t
        v = state.second_moment + (1 - b2) * (squared_magnitude(grad) - state.second_moment)
        scale = jnp.sqrt(correction2) if eps_hat else 1
        step = jnp.asarray(step_size * warmup(t - 1 if lagged_warmup else t) * scale, real)
        weight_step = jnp.asarray(step_size * warmup(t) * scale, real)
        if eps_hat:
            direction = grad / (jnp.sqrt(v) + eps)
        else:
            direction = grad / (jnp.sqrt(v / correction2.astype(real)) + eps)
        if decay_point == "params":
            y = y - y * weight_decay * step_size
        elif decay_point == "y":
            direction = direction + weight_decay * y
        else:
            direction = direction + weight_decay * state.z
        z = state.z - step * direction

        max_step_size = jnp.maximum(state.max_step_size, weight_step)
        weight = t.astype(real) ** r * max_step_size**weight_lr_power
        weight_sum = state.weight_sum + weight
        c = jnp.where(weight_sum > 0, weight / jnp.where(weight_sum > 0, weight_sum, 1), 0)
        x = (y - (1 - b1) * state.z) / b1
        x = (1 - c) * x + c * z
        new_y = b1 * x + (1 - b1) * z
        new_state = state._replace(
            z=z, second_moment=v, weight_sum=weight_sum, max_step_size=max_step_size
        )
        return new_y - param, new_state

    return elementwise_optimizer(
        rule,
        ScheduleFreeState,
        {
            "z": lambda param: jnp.copy(param),
            "second_moment": 0.0,
            "weight_sum": lambda param: jnp.zeros(()),
            "max_step_size": lambda param: jnp.zeros(()),
            "b1": lambda param: jnp.asarray(b1),
        },
        learning_rate,
        state_dtype=state_dtype,
        needs_params=True,
        real_fields=("second_moment", "weight_sum", "max_step_size", "b1"),
        maximize=maximize,
    )


def schedule_free_eval_params(state: ScheduleFreeState, params: Any) -> Any:
    """The params to evaluate at: the average ``x = (y - (1 - b1) * z) / b1``.

    ``params`` are the ones being trained (``y``); as optax's
    ``contrib.schedule_free_eval_params``.
    """
    if not isinstance(state, ScheduleFreeState):
        raise TypeError(
            f"schedule_free_eval_params needs a ScheduleFreeState, got {type(state).__name__}"
        )
    return jax.tree.map(
        lambda y, z, b1: ((y - (1 - b1) * z) / b1).astype(jnp.result_type(y)),
        params,
        state.z,
        state.b1,
    )


def _is_concrete_number(value: Any) -> bool:
    return isinstance(value, (int, float))
