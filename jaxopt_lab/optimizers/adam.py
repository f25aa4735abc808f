"""Adam and the optimizers built on its two moments: AdamW, AMSGrad, Adamax."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.optimizers.plumbing import (
    BIAS_CORRECTIONS,
    ScalarOrSchedule,
    bias_corrections,
    elementwise_optimizer,
    squared_magnitude,
)
from jaxopt_lab.optimizers.validation import (
    check_choice,
    check_eps,
    check_hyperparameter,
    hyperparameters,
    is_concrete_zero,
)


class AdamState(NamedTuple):
    """State of :func:`adam` and :func:`adamw`: optax's ``mu`` and ``nu``."""

    count: jax.Array
    first_moment: Any
    second_moment: Any


class AmsgradState(NamedTuple):
    """State of :func:`amsgrad`: Adam's moments and the running maximum of the second."""

    count: jax.Array
    first_moment: Any
    second_moment: Any
    max_second_moment: Any


class AdamaxState(NamedTuple):
    """State of :func:`adamax`: the first moment and the infinity norm ``u`` (optax's nu)."""

    count: jax.Array
    first_moment: Any
    infinity_norm: Any


MAX_OF = ("raw", "corrected")
"""Where AMSGrad takes its maximum: of the raw v (torch, Keras), or of v / (1 - b2**t) (optax)."""


MOMENT_FORMS = ("lerp", "weighted_sum")
"""How Adam's moments are updated: ``m + (1 - b) * (g - m)`` (torch's ``lerp_``, Keras),
or ``(1 - b) * g + b * m`` (optax); the two round differently."""


def adam_moments(grad, state, b1, b2, moment_form="lerp"):
    """Adam's two moments after ``grad``, in ``moment_form`` (:data:`MOMENT_FORMS`)."""
    if moment_form == "weighted_sum":
        first_moment = (1 - b1) * grad + b1 * state.first_moment
        second_moment = (1 - b2) * squared_magnitude(grad) + b2 * state.second_moment
        return first_moment, second_moment
    first_moment = state.first_moment + (1 - b1) * (grad - state.first_moment)
    second_moment = state.second_moment + (1 - b2) * (squared_magnitude(grad) - state.second_moment)
    return first_moment, second_moment


def _adam_direction(
    grad, state, b1, b2, eps, eps_root, eps_hat, bias_correction="accurate", moment_form="lerp"
):
    """The moment updates and the step direction shared by Adam and AdamW.

    Returns ``(direction, first_moment, second_moment)`` where the parameter
    step is ``-learning_rate * direction`` (plus weight decay for AdamW).
    """
    correction1, correction2 = bias_corrections(state, b1, b2, grad.dtype, bias_correction)
    real = grad.real.dtype
    first_moment, second_moment = adam_moments(grad, state, b1, b2, moment_form)
    if eps_hat:
        # lr_t = lr * sqrt(1 - b2**t) / (1 - b1**t); step = lr_t * m / (sqrt(v) + eps)
        correction = (jnp.sqrt(correction2) / correction1).astype(real)
        direction = correction * first_moment / (jnp.sqrt(second_moment + eps_root) + eps)
    else:
        # m_hat = m / (1 - b1**t); v_hat = v / (1 - b2**t); step = lr * m_hat / (sqrt(v_hat) + eps)
        first_unbiased = first_moment / correction1.astype(real)
        second_unbiased = second_moment / correction2.astype(real)
        direction = first_unbiased / (jnp.sqrt(second_unbiased + eps_root) + eps)
    return direction, first_moment, second_moment


def _keras_step(grad, state, step_size, b1, b2, eps, eps_root, moment_form):
    """Keras's Adam step, grouped as Keras groups it: ``alpha = lr * sqrt(1 - b2**t) /
    (1 - b1**t)``, ``step = (m * alpha) / (sqrt(v) + eps)``; returns ``(-step, m, v)``."""
    correction1, correction2 = bias_corrections(state, b1, b2, grad.dtype, "float32")
    real = grad.real.dtype
    first_moment, second_moment = adam_moments(grad, state, b1, b2, moment_form)
    alpha = (step_size * jnp.sqrt(correction2) / correction1).astype(real)
    step = (first_moment * alpha) / (jnp.sqrt(second_moment + eps_root) + eps)
    return -step, first_moment, second_moment


def _optax_bias_correction(b1, b2):
    """optax's ``m_hat, v_hat``: ``optax.tree.bias_correction`` of the whole tree of new
    moments, ``1 - b**t`` taken once per step (``t = optax.safe_increment(count)``, an int32
    power) and every leaf divided by it, in one call as ``optax.scale_by_adam`` makes it, so
    that XLA compiles the division as it compiles optax's (eager or jitted)."""

    def tree_stage(new_state, count):
        count = optax.safe_increment(count)
        return (
            optax.tree.bias_correction(new_state.first_moment, b1, count),
            optax.tree.bias_correction(new_state.second_moment, b2, count),
        )

    return tree_stage


def _optax_step(step_size, eps, eps_root):
    """optax's step from its ``m_hat, v_hat``: ``-lr * (m_hat / (sqrt(v_hat + eps_root) +
    eps))`` (``scale_by_adam``, then ``scale_by_learning_rate``)."""

    def finish(first_unbiased, second_unbiased):
        return -step_size * (first_unbiased / (jnp.sqrt(second_unbiased + eps_root) + eps))

    return finish


def _check_adam_hyperparameters(learning_rate, b1, b2, eps, eps_root):
    check_hyperparameter("learning_rate", learning_rate)
    check_hyperparameter("b1", b1, high=1.0)
    check_hyperparameter("b2", b2, high=1.0)
    check_hyperparameter("eps_root", eps_root)
    check_eps(
        "eps", eps, denominator="sqrt(v + eps_root) + eps", guarded=not is_concrete_zero(eps_root)
    )


@hyperparameters("learning_rate", "b1", "b2", "eps", "eps_root", "weight_decay")
def adam(
    learning_rate: ScalarOrSchedule = 0.001,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-7,
    *,
    eps_root: float = 0.0,
    eps_hat: bool = True,
    bias_correction: str = "accurate",
    moment_form: str = "lerp",
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
    complex_convention: str = "optax",
    state_dtype: Any = None,
) -> optax.GradientTransformationExtraArgs:
    """Adam.

    ``m += (1 - b1) * (g - m);  v += (1 - b2) * (g**2 - v)``, both from 0, t the
    1-based step. With ``eps_hat=True`` (the tutorial's folded form, and Keras's)::

        lr_t = lr * sqrt(1 - b2**t) / (1 - b1**t)
        p -= lr_t * m / (sqrt(v + eps_root) + eps)

    With ``eps_hat=False`` (the paper's Algorithm 1, optax and torch)::

        p -= lr * m_hat / (sqrt(v_hat + eps_root) + eps),  m_hat = m / (1 - b1**t),
                                                          v_hat = v / (1 - b2**t)

    The two differ only in where eps sits: ``eps_hat=True`` with eps equals
    ``eps_hat=False`` with ``eps * sqrt(1 - b2**t)``.
    Defaults are the tutorial's, which equal Keras ``Adam(lr)``; optax ``adam(lr)``
    and ``torch.optim.Adam(lr)`` are ``adam(lr, eps=1e-8, eps_hat=False)``;
    torch's ``Adam(weight_decay=wd)`` is L2 on the gradient, ``adam(...,
    weight_decay=wd)`` here (coupled, see ``plumbing`` for that and the other
    knobs). eps may be 0 only with a positive ``eps_root``.

    ``bias_correction="float32"`` takes ``1 - b**t`` as optax and Keras do (``b``
    rounded to the working dtype, ``1 - b**t`` in it; ``"accurate"``, the default,
    is ``-expm1(t * log b)`` from the given ``b``), and with ``eps_hat=True`` groups
    the step as Keras does, ``(m * (lr * sqrt(1 - b2**t) / (1 - b1**t))) / (sqrt(v) +
    eps)``; with ``eps_hat=False`` it divides as ``optax.scale_by_adam`` does, the whole
    tree in one ``optax.tree.bias_correction`` call (XLA keeps ``m / (1 - b**t)`` a
    division where the leaves share one ``1 - b**t``, and makes it ``m * (1 / (1 -
    b**t))`` where one leaf reads it), and keeps a complex param's ``v`` complex, as
    optax does. ``moment_form="weighted_sum"`` updates the moments as optax does,
    ``(1 - b) * g + b * m`` (default ``"lerp"``, ``m + (1 - b) * (g - m)``, torch's
    and Keras's). Keras ``Adam(lr)`` is ``adam(lr, bias_correction="float32")`` and
    optax ``adam(lr)`` is ``adam(lr, eps=1e-8, eps_hat=False, bias_correction=
    "float32", moment_form="weighted_sum")``, bit for bit, on any tree, jitted or not.
    Kingma and Ba (2015), "Adam: a method for stochastic optimization".
    """
    _check_adam_hyperparameters(learning_rate, b1, b2, eps, eps_root)
    check_choice("bias_correction", bias_correction, BIAS_CORRECTIONS)
    check_choice("moment_form", moment_form, MOMENT_FORMS)

    optax_division = not eps_hat and bias_correction == "float32"

    def rule(grad, state, param, step_size):
        if eps_hat and bias_correction == "float32":
            update, first_moment, second_moment = _keras_step(
                grad, state, step_size, b1, b2, eps, eps_root, moment_form
            )
        elif optax_division:
            first_moment, second_moment = adam_moments(grad, state, b1, b2, moment_form)
            update = _optax_step(step_size, eps, eps_root)
        else:
            direction, first_moment, second_moment = _adam_direction(
                grad, state, b1, b2, eps, eps_root, eps_hat, bias_correction, moment_form
            )
            update = -step_size * direction
        new_state = state._replace(first_moment=first_moment, second_moment=second_moment)
        return update, new_state

    return elementwise_optimizer(
        rule,
        AdamState,
        {"first_moment": 0.0, "second_moment": 0.0},
        learning_rate,
        state_dtype=state_dtype,
        # optax keeps a complex param's second moment complex (its imaginary part stays 0),
        # and takes its square root and divides by it in complex arithmetic.
        real_fields=() if optax_division else ("second_moment",),
        weight_decay=weight_decay,
        decoupled_weight_decay=decoupled_weight_decay,
        maximize=maximize,
        complex_convention=complex_convention,
        tree_stage=_optax_bias_correction(b1, b2) if optax_division else None,
    )


@hyperparameters("learning_rate", "b1", "b2", "eps", "weight_decay", "eps_root")
def adamw(
    learning_rate: ScalarOrSchedule = 0.001,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-7,
    weight_decay: float = 0.01,
    *,
    eps_root: float = 0.0,
    eps_hat: bool = True,
    bias_correction: str = "accurate",
    moment_form: str = "lerp",
    maximize: bool = False,
    complex_convention: str = "optax",
    state_dtype: Any = None,
) -> optax.GradientTransformationExtraArgs:
    """Adam with decoupled weight decay: ``adam(..., decoupled_weight_decay=True)``.

    The :func:`adam` step plus ``- lr * weight_decay * p`` (the decay is scaled
    by the learning rate, not by the Adam correction). ``update`` needs params
    (unless weight_decay is 0). optax ``adamw(lr, weight_decay=wd)`` and
    ``torch.optim.AdamW(lr, weight_decay=wd)`` are ``adamw(lr, eps=1e-8,
    weight_decay=wd, eps_hat=False)``; Keras ``AdamW(lr, weight_decay=wd)`` is
    ``adamw(lr, weight_decay=wd)`` (``bias_correction="float32"``: Keras's rounding of
    1 - b**t, see :func:`adam`). The default weight_decay, 0.01, is torch's.
    Loshchilov and Hutter (2019), "Decoupled weight decay regularization".
    """
    return adam(
        learning_rate,
        b1,
        b2,
        eps,
        eps_root=eps_root,
        eps_hat=eps_hat,
        bias_correction=bias_correction,
        moment_form=moment_form,
        weight_decay=weight_decay,
        decoupled_weight_decay=True,
        maximize=maximize,
        complex_convention=complex_convention,
        state_dtype=state_dtype,
    )


@hyperparameters("learning_rate", "b1", "b2", "eps", "eps_root", "weight_decay")
def amsgrad(
    learning_rate: ScalarOrSchedule = 0.001,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    *,
    max_of: str = "raw",
    eps_hat: bool = False,
    bias_correction: bool | str = True,
    eps_root: float = 0.0,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
    complex_convention: str = "optax",
    state_dtype: Any = None,
) -> optax.GradientTransformationExtraArgs:
    """AMSGrad: Adam whose second moment never decreases.

    Adam's moments (:func:`adam`), and with ``max_of="raw"`` (torch, Keras)::

        v_max = max(v_max, v);  p -= lr * m_hat / (sqrt(v_max / (1 - b2**t) + eps_root) + eps)

    with ``max_of="corrected"`` (optax) ``v_max = max(v_max, v / (1 - b2**t))``
    and ``p -= lr * m_hat / (sqrt(v_max + eps_root) + eps)``: the two differ
    once the maximum holds, because the correction shrinks as t grows.
    ``eps_hat=True`` (with ``max_of="raw"``) is Adam's folded form:
    ``p -= lr * sqrt(1 - b2**t) / (1 - b1**t) * m / (sqrt(v_max + eps_root) + eps)``.
    ``bias_correction=False`` drops both corrections: the paper's Algorithm 2
    (with eps); ``"float32"`` takes them as optax and Keras do (see :func:`adam`;
    ``True`` is ``"accurate"``).

    Defaults are torch's (the paper's Algorithm 2 has no bias correction and no
    eps). ``torch.optim.Adam(lr, amsgrad=True)`` is ``amsgrad(lr)``; Keras
    ``Adam(lr, amsgrad=True)`` is ``amsgrad(lr, eps=1e-7, eps_hat=True)``;
    optax ``amsgrad(lr)`` is ``amsgrad(lr, max_of="corrected")`` (and
    ``bias_correction_mu=False, bias_correction_nu=False`` there is
    ``bias_correction=False`` here). AdamW with AMSGrad (torch ``AdamW(amsgrad=
    True)``, Keras ``AdamW(amsgrad=True)``) is ``decoupled_weight_decay=True``.
    The other knobs: see ``plumbing``. Reddi, Kale and Kumar (2018), "On the
    convergence of Adam and beyond".
    """
    _check_adam_hyperparameters(learning_rate, b1, b2, eps, eps_root)
    if max_of not in MAX_OF:
        raise ValueError(f"max_of must be one of {MAX_OF}, got {max_of!r}")
    if not isinstance(bias_correction, bool):
        check_choice("bias_correction", bias_correction, BIAS_CORRECTIONS)
    form = "float32" if bias_correction == "float32" else "accurate"
    if eps_hat and (max_of != "raw" or not bias_correction):
        raise ValueError(
            "eps_hat=True folds the bias correction into the learning rate, which needs the "
            "maximum of the raw second moment (max_of='raw') and bias_correction=True"
        )

    def rule(grad, state, param, step_size):
        real = grad.real.dtype
        first_moment = state.first_moment + (1 - b1) * (grad - state.first_moment)
        second_moment = state.second_moment + (1 - b2) * (
            squared_magnitude(grad) - state.second_moment
        )
        if bias_correction:
            correction1, correction2 = (
                c.astype(real) for c in bias_corrections(state, b1, b2, grad.dtype, form)
            )
        if max_of == "corrected":  # optax: the maximum of v_hat
            corrected = second_moment / correction2 if bias_correction else second_moment
            max_second_moment = jnp.maximum(state.max_second_moment, corrected)
            second_unbiased = max_second_moment
        else:  # torch, Keras: the maximum of the raw v
            max_second_moment = jnp.maximum(state.max_second_moment, second_moment)
            second_unbiased = (
                max_second_moment / correction2 if bias_correction else (max_second_moment)
            )
        if eps_hat:
            correction = jnp.sqrt(correction2) / correction1 if bias_correction else 1
            direction = correction * first_moment / (jnp.sqrt(max_second_moment + eps_root) + eps)
        else:
            first_unbiased = first_moment / correction1 if bias_correction else first_moment
            direction = first_unbiased / (jnp.sqrt(second_unbiased + eps_root) + eps)
        new_state = state._replace(
            first_moment=first_moment,
            second_moment=second_moment,
            max_second_moment=max_second_moment,
        )
        return -step_size * direction, new_state

    return elementwise_optimizer(
        rule,
        AmsgradState,
        {"first_moment": 0.0, "second_moment": 0.0, "max_second_moment": 0.0},
        learning_rate,
        state_dtype=state_dtype,
        real_fields=("second_moment", "max_second_moment"),
        weight_decay=weight_decay,
        decoupled_weight_decay=decoupled_weight_decay,
        maximize=maximize,
        complex_convention=complex_convention,
    )


@hyperparameters("learning_rate", "b1", "b2", "eps", "weight_decay")
def adamax(
    learning_rate: ScalarOrSchedule = 0.002,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    *,
    eps_in_max: bool = True,
    bias_correction: str = "accurate",
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
    complex_convention: str = "optax",
    state_dtype: Any = None,
) -> optax.GradientTransformationExtraArgs:
    """Adamax: Adam with the infinity norm in place of the second moment.

    ``m += (1 - b1) * (g - m)``; with ``eps_in_max=True`` (torch, optax)
    ``u = max(b2 * u, |g| + eps)`` and ``p -= lr / (1 - b1**t) * m / u``; with
    ``eps_in_max=False`` (Keras) ``u = max(b2 * u, |g|)`` and
    ``p -= lr / (1 - b1**t) * m / (u + eps)``. u starts at 0.

    Defaults are the paper's (lr 0.002, b1 0.9, b2 0.999), with torch's eps
    (the paper has none). ``torch.optim.Adamax(lr)`` and optax ``adamax(lr)``
    are ``adamax(lr)``; Keras ``Adamax(lr)`` is ``adamax(lr, eps=1e-7,
    eps_in_max=False)``. For complex params, ``|g|`` is the modulus (optax
    convention) or each part's absolute value (torch's). ``bias_correction=
    "float32"``: ``1 - b1**t`` as optax and Keras take it (see :func:`adam`). The
    other knobs: see ``plumbing``. Kingma and Ba (2015), "Adam", section 7.1.
    """
    check_hyperparameter("learning_rate", learning_rate)
    check_hyperparameter("b1", b1, high=1.0)
    check_hyperparameter("b2", b2, high=1.0)
    check_eps("eps", eps, denominator="max(b2 * u, |g| + eps)")
    check_choice("bias_correction", bias_correction, BIAS_CORRECTIONS)

    def rule(grad, state, param, step_size):
        correction1, _ = bias_corrections(state, b1, b2, grad.dtype, bias_correction)
        first_moment = state.first_moment + (1 - b1) * (grad - state.first_moment)
        if eps_in_max:
            infinity_norm = jnp.maximum(b2 * state.infinity_norm, jnp.abs(grad) + eps)
            denominator = infinity_norm
        else:
            infinity_norm = jnp.maximum(b2 * state.infinity_norm, jnp.abs(grad))
            denominator = infinity_norm + eps
        direction = first_moment / correction1.astype(grad.real.dtype) / denominator
        new_state = state._replace(first_moment=first_moment, infinity_norm=infinity_norm)
        return -step_size * direction, new_state

    return elementwise_optimizer(
        rule,
        AdamaxState,
        {"first_moment": 0.0, "infinity_norm": 0.0},
        learning_rate,
        state_dtype=state_dtype,
        real_fields=("infinity_norm",),
        weight_decay=weight_decay,
        decoupled_weight_decay=decoupled_weight_decay,
        maximize=maximize,
        complex_convention=complex_convention,
    )
