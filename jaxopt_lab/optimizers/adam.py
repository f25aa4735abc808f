"""Adam and the optimizers built on its two moments."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.optimizers.plumbing import (
    ScalarOrSchedule,
    bias_corrections,
    check_eps,
    check_hyperparameter,
    elementwise_optimizer,
    hyperparameters,
    is_concrete_zero,
    squared_magnitude,
)


class AdamState(NamedTuple):
    """State of :func:`adam` and :func:`adamw`: optax's ``mu`` and ``nu``."""

    count: jax.Array
    first_moment: Any
    second_moment: Any


def _adam_direction(grad, state, b1, b2, eps, eps_root, eps_hat):
    """The moment updates and the step direction shared by Adam and AdamW.

    Returns ``(direction, first_moment, second_moment)`` where the parameter
    step is ``-learning_rate * direction`` (plus weight decay for AdamW).
    """
    correction1, correction2 = bias_corrections(state, b1, b2, grad.dtype)
    real = grad.real.dtype
    first_moment = state.first_moment + (1 - b1) * (grad - state.first_moment)
    second_moment = state.second_moment + (1 - b2) * (
        squared_magnitude(grad) - state.second_moment
    )
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
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
    complex_convention: str = "optax",
    state_dtype: Any = None,
) -> optax.GradientTransformationExtraArgs:
    """Adam.

    ``m += (1 - b1) * (g - m);  v += (1 - b2) * (g**2 - v)``, both from 0, t the
    1-based step. With ``eps_hat=True`` (the seed's folded form, and Keras's)::

        lr_t = lr * sqrt(1 - b2**t) / (1 - b1**t)
        p -= lr_t * m / (sqrt(v + eps_root) + eps)

    With ``eps_hat=False`` (the paper's Algorithm 1, optax and torch)::

        p -= lr * m_hat / (sqrt(v_hat + eps_root) + eps),  m_hat = m / (1 - b1**t),
                                                          v_hat = v / (1 - b2**t)

    The two differ only in where eps sits: ``eps_hat=True`` with eps equals
    ``eps_hat=False`` with ``eps * sqrt(1 - b2**t)``.
    Defaults are the seed's, which equal Keras ``Adam(lr)``; optax ``adam(lr)``
    and ``torch.optim.Adam(lr)`` are ``adam(lr, eps=1e-8, eps_hat=False)``;
    torch's ``Adam(weight_decay=wd)`` is L2 on the gradient, ``adam(...,
    weight_decay=wd)`` here (coupled, see ``plumbing`` for that and the other
    knobs). eps may be 0 only with a positive ``eps_root``.
    Kingma and Ba (2015), "Adam: a method for stochastic optimization".
    """
    _check_adam_hyperparameters(learning_rate, b1, b2, eps, eps_root)

    def rule(grad, state, param, step_size):
        direction, first_moment, second_moment = _adam_direction(
            grad, state, b1, b2, eps, eps_root, eps_hat
        )
        new_state = state._replace(first_moment=first_moment, second_moment=second_moment)
        return -step_size * direction, new_state

    return elementwise_optimizer(
        rule,
        AdamState,
        {"first_moment": 0.0, "second_moment": 0.0},
        learning_rate,
        state_dtype=state_dtype,
        real_fields=("second_moment",),
        weight_decay=weight_decay,
        decoupled_weight_decay=decoupled_weight_decay,
        maximize=maximize,
        complex_convention=complex_convention,
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
    ``adamw(lr, weight_decay=wd)``. The default weight_decay, 0.01, is torch's.
    Loshchilov and Hutter (2019), "Decoupled weight decay regularization".
    """
    return adam(
        learning_rate,
        b1,
        b2,
        eps,
        eps_root=eps_root,
        eps_hat=eps_hat,
        weight_decay=weight_decay,
        decoupled_weight_decay=True,
        maximize=maximize,
        complex_convention=complex_convention,
        state_dtype=state_dtype,
    )
