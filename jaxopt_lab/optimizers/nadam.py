"""NAdam and NAdamW: Adam with Nesterov momentum, and a schedule for that momentum."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.optimizers.plumbing import (
    BIAS_CORRECTIONS,
    ScalarOrSchedule,
    bias_corrections,
    elementwise_optimizer,
    one_minus_power,
    rounded_one_minus_power,
    squared_magnitude,
)
from jaxopt_lab.optimizers.validation import (
    check_choice,
    check_eps,
    check_hyperparameter,
    hyperparameters,
)


class NadamState(NamedTuple):
    """State of :func:`nadam` and :func:`nadamw`.

    ``momentum_product`` is prod_{i <= t} mu_i, one scalar per leaf (torch's
    ``mu_product``); ``None`` when the momentum is constant (``momentum_decay=None``).
    """

    count: jax.Array
    first_moment: Any
    second_moment: Any
    momentum_product: Any


def _momentum(b1: Any, momentum_decay: Any, t: jax.Array) -> jax.Array:
    """mu_t = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay)), in ``t``'s dtype."""
    if isinstance(momentum_decay, (int, float)):
        rate = jnp.asarray(momentum_decay * math.log(0.96), t.dtype)  # taken in float64
    else:
        rate = jnp.asarray(momentum_decay, t.dtype) * jnp.log(jnp.asarray(0.96, t.dtype))
    return b1 * (1 - 0.5 * jnp.exp(t * rate))


def _nadam(
    learning_rate,
    b1,
    b2,
    eps,
    momentum_decay,
    weight_decay,
    decoupled_weight_decay,
    maximize,
    complex_convention,
    state_dtype,
    bias_correction="accurate",
) -> optax.GradientTransformationExtraArgs:
    check_hyperparameter("learning_rate", learning_rate)
    check_hyperparameter("b1", b1, high=1.0)
    check_hyperparameter("b2", b2, high=1.0)
    check_hyperparameter("momentum_decay", momentum_decay, optional=True)
    check_eps("eps", eps, denominator="sqrt(v_hat) + eps")
    check_choice("bias_correction", bias_correction, BIAS_CORRECTIONS)
    scheduled = momentum_decay is not None
    power = rounded_one_minus_power if bias_correction == "float32" else one_minus_power

    def rule(grad, state, param, step_size):
        real = grad.real.dtype
        correction1, correction2 = bias_corrections(state, b1, b2, grad.dtype, bias_correction)
        t = jnp.asarray(state.count).astype(correction1.dtype) + 1
        first_moment = state.first_moment + (1 - b1) * (grad - state.first_moment)
        second_moment = state.second_moment + (1 - b2) * (
            squared_magnitude(grad) - state.second_moment
        )
        if scheduled:  # torch, Keras: mu_t, mu_{t+1} and the running product of mu
            momentum, momentum_next = (
                _momentum(b1, momentum_decay, t),
                _momentum(b1, momentum_decay, t + 1),
            )
            momentum_product = state.momentum_product * momentum.astype(real)
            product_next = momentum_product * momentum_next.astype(real)
            gradient_weight = (1 - momentum.astype(real)) / (1 - momentum_product)
            moment_weight = momentum_next.astype(real) / (1 - product_next)
        else:  # optax: mu_t = b1, so the product is b1**t
            momentum_product = None
            gradient_weight = (1 - b1) / correction1.astype(real)
            moment_weight = b1 / power(b1, t + 1).astype(real)
        first_unbiased = moment_weight * first_moment + gradient_weight * grad
        second_unbiased = second_moment / correction2.astype(real)
        direction = first_unbiased / (jnp.sqrt(second_unbiased) + eps)
        new_state = state._replace(
            first_moment=first_moment,
            second_moment=second_moment,
            momentum_product=momentum_product,
        )
        return -step_size * direction, new_state

    return elementwise_optimizer(
        rule,
        NadamState,
        {
            "first_moment": 0.0,
            "second_moment": 0.0,
            "momentum_product": (lambda param: jnp.ones([])) if scheduled else None,
        },
        learning_rate,
        state_dtype=state_dtype,
        real_fields=("second_moment", "momentum_product"),
        weight_decay=weight_decay,
        decoupled_weight_decay=decoupled_weight_decay,
        maximize=maximize,
        complex_convention=complex_convention,
    )


@hyperparameters("learning_rate", "b1", "b2", "eps", "momentum_decay", "weight_decay")
def nadam(
    learning_rate: ScalarOrSchedule = 0.002,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    *,
    momentum_decay: float | None = 0.004,
    bias_correction: str = "accurate",
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
    complex_convention: str = "optax",
    state_dtype: Any = None,
) -> optax.GradientTransformationExtraArgs:
    """NAdam: Adam with Nesterov momentum under a warming-up momentum schedule.

    Adam's moments (m and v from 0, t the 1-based step), the momentum schedule
    ``mu_t = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))`` and its running
    product ``P_t = mu_1 * ... * mu_t``::

        m_hat = mu_{t+1} * m / (1 - P_{t+1}) + (1 - mu_t) * g / (1 - P_t)
        p -= lr * m_hat / (sqrt(v / (1 - b2**t)) + eps)

    ``momentum_decay=None`` keeps ``mu_t = b1`` (so ``P_t = b1**t``).

    Defaults are torch's; momentum_decay 0.004 is the paper's schedule
    ``0.96 ** (t / 250)``. ``torch.optim.NAdam(lr)`` is ``nadam(lr)``; Keras
    ``Nadam(lr)`` is ``nadam(lr, eps=1e-7, momentum_decay=1.0)`` (its schedule
    is ``0.96 ** t``: a momentum of 0.89 by step 100 where torch's is still
    0.46); optax ``nadam(lr)`` is ``nadam(lr, momentum_decay=None)``. torch's
    ``NAdam(weight_decay=wd)`` is coupled L2, ``weight_decay=wd`` here; with
    ``decoupled_weight_decay=True`` it is :func:`nadamw`. ``bias_correction=
    "float32"`` takes ``1 - b**t`` as optax does (see :func:`~jaxopt_lab.adam`).
    The other knobs: see ``plumbing``. Dozat (2016), "Incorporating Nesterov
    momentum into Adam".
    """
    return _nadam(
        learning_rate,
        b1,
        b2,
        eps,
        momentum_decay,
        weight_decay,
        decoupled_weight_decay,
        maximize,
        complex_convention,
        state_dtype,
        bias_correction,
    )


@hyperparameters("learning_rate", "b1", "b2", "eps", "weight_decay", "momentum_decay")
def nadamw(
    learning_rate: ScalarOrSchedule = 0.002,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.01,
    *,
    momentum_decay: float | None = 0.004,
    bias_correction: str = "accurate",
    maximize: bool = False,
    complex_convention: str = "optax",
    state_dtype: Any = None,
) -> optax.GradientTransformationExtraArgs:
    """NAdam with decoupled weight decay: ``nadam(..., decoupled_weight_decay=True)``.

    The :func:`nadam` step plus ``- lr * weight_decay * p``. The default
    weight_decay, 0.01, is torch's AdamW's (torch's ``NAdam(decoupled_weight_decay=
    True)`` defaults to 0). ``torch.optim.NAdam(lr, weight_decay=wd,
    decoupled_weight_decay=True)`` is ``nadamw(lr, weight_decay=wd)``; optax
    ``nadamw(lr, weight_decay=wd)`` is ``nadamw(lr, weight_decay=wd,
    momentum_decay=None)``; Keras ``Nadam(lr, weight_decay=wd)`` is
    ``nadamw(lr, eps=1e-7, weight_decay=wd, momentum_decay=1.0)``.
    Loshchilov and Hutter (2019); Dozat (2016).
    """
    return _nadam(
        learning_rate,
        b1,
        b2,
        eps,
        momentum_decay,
        weight_decay,
        True,
        maximize,
        complex_convention,
        state_dtype,
        bias_correction,
    )
