"""Per-coordinate step sizes from accumulated squared gradients: AdaGrad, RMSprop, Adadelta."""

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
    check_eps,
    check_hyperparameter,
    hyperparameters,
    is_concrete_zero,
)


class AdagradState(NamedTuple):
    """State of :func:`adagrad`: ``sum_of_squares`` is the tutorial's ``h``."""

    count: jax.Array
    sum_of_squares: Any


class AdadeltaState(NamedTuple):
    """State of :func:`adadelta`: running means of g² and of the step Δ² (optax e_g, e_x)."""

    count: jax.Array
    mean_square: Any
    mean_square_delta: Any


class RmspropState(NamedTuple):
    """State of :func:`rmsprop`.

    ``mean_square`` is the tutorial's ``h`` (optax's ``nu``); ``mean_gradient`` is
    kept only when ``centered`` (else ``None``); ``velocity`` only when
    ``momentum`` is given (else ``None``).
    """

    count: jax.Array
    mean_square: Any
    mean_gradient: Any
    velocity: Any


@hyperparameters("learning_rate", "eps", "initial_accumulator_value", "lr_decay", "weight_decay")
def adagrad(
    learning_rate: ScalarOrSchedule = 0.01,
    eps: float = 1e-7,
    *,
    initial_accumulator_value: float = 0.0,
    eps_in_sqrt: bool = False,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
    complex_convention: str = "optax",
    state_dtype: Any = None,
) -> optax.GradientTransformationExtraArgs:
    """AdaGrad.

    ``h += g**2;  p -= lr * g / (sqrt(h) + eps)``, h starting at
    ``initial_accumulator_value``; with ``eps_in_sqrt=True``,
    ``p -= lr * g / sqrt(h + eps)``. ``lr_decay`` is torch's: the step t
    (1-based) uses ``lr / (1 + (t - 1) * lr_decay)``.

    The defaults are the tutorial's. ``torch.optim.Adagrad(lr, eps=1e-10)`` is
    ``adagrad(lr, eps=1e-10)``; optax ``adagrad(lr)`` and Keras ``Adagrad(lr)``
    are ``adagrad(lr, initial_accumulator_value=0.1, eps_in_sqrt=True)``. The
    other knobs: see ``plumbing``. eps may be 0 only with a positive
    ``initial_accumulator_value`` (else a zero gradient gives 0/0).
    Duchi, Hazan and Singer (2011), "Adaptive subgradient methods".
    """
    check_hyperparameter("learning_rate", learning_rate)
    check_hyperparameter("initial_accumulator_value", initial_accumulator_value)
    check_hyperparameter("lr_decay", lr_decay)
    check_eps(
        "eps",
        eps,
        denominator="sqrt(h) + eps",
        guarded=not is_concrete_zero(initial_accumulator_value),
    )
    decays_lr = not is_concrete_zero(lr_decay)

    def rule(grad, state, param, step_size):
        if decays_lr:  # torch: clr = lr / (1 + (t - 1) * lr_decay)
            step_size = step_size / (1 + state.count * lr_decay)
        sum_of_squares = state.sum_of_squares + squared_magnitude(grad)
        if eps_in_sqrt:
            denominator = jnp.sqrt(sum_of_squares + eps)
        else:
            denominator = jnp.sqrt(sum_of_squares) + eps
        return -step_size * grad / denominator, state._replace(sum_of_squares=sum_of_squares)

    return elementwise_optimizer(
        rule,
        AdagradState,
        {"sum_of_squares": initial_accumulator_value},
        learning_rate,
        state_dtype=state_dtype,
        real_fields=("sum_of_squares",),
        weight_decay=weight_decay,
        decoupled_weight_decay=decoupled_weight_decay,
        maximize=maximize,
        complex_convention=complex_convention,
    )


@hyperparameters("learning_rate", "decay", "eps", "initial_scale", "momentum", "weight_decay")
def rmsprop(
    learning_rate: ScalarOrSchedule = 0.01,
    decay: float = 0.99,
    eps: float = 1e-7,
    *,
    eps_in_sqrt: bool = False,
    initial_scale: float = 0.0,
    centered: bool = False,
    momentum: float | None = None,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
    complex_convention: str = "optax",
    state_dtype: Any = None,
) -> optax.GradientTransformationExtraArgs:
    """RMSprop.

    ``h = decay * h + (1 - decay) * g**2;  p -= lr * g / (sqrt(h) + eps)``, h
    starting at ``initial_scale``. With ``eps_in_sqrt=True`` the denominator is
    ``sqrt(h + eps)``. With ``centered=True``, ``h`` is replaced by
    ``h - m**2`` where ``m = decay * m + (1 - decay) * g``. With a
    ``momentum``, the scaled step is accumulated:
    ``v = momentum * v + lr * g / denominator;  p -= v``.

    The defaults are the tutorial's; they equal optax ``rmsprop(lr, decay=0.99,
    eps=1e-7, eps_in_sqrt=False)`` and ``torch.optim.RMSprop(lr, alpha=0.99,
    eps=1e-7)``. Keras ``RMSprop(lr)`` is ``rmsprop(lr, decay=0.9,
    eps_in_sqrt=True)``. The other knobs: see ``plumbing``. eps may be 0
    only with a positive ``initial_scale`` and ``centered=False``.
    Tieleman and Hinton (2012), Coursera lecture 6.5.
    """
    check_hyperparameter("learning_rate", learning_rate)
    check_hyperparameter("decay", decay, high=1.0)
    check_hyperparameter("initial_scale", initial_scale)
    check_hyperparameter("momentum", momentum, high=1.0, optional=True)
    check_eps(
        "eps",
        eps,
        denominator="sqrt(h) + eps",
        guarded=not centered and not is_concrete_zero(initial_scale),
    )

    def rule(grad, state, param, step_size):
        mean_square = decay * state.mean_square + (1 - decay) * squared_magnitude(grad)
        variance, mean_gradient = mean_square, None
        if centered:
            mean_gradient = decay * state.mean_gradient + (1 - decay) * grad
            variance = mean_square - squared_magnitude(mean_gradient)
        if eps_in_sqrt:
            denominator = jnp.sqrt(variance + eps)
        else:
            denominator = jnp.sqrt(variance) + eps
        step, velocity = step_size * grad / denominator, None
        if momentum is not None:
            velocity = step = momentum * state.velocity + step
        new_state = state._replace(
            mean_square=mean_square, mean_gradient=mean_gradient, velocity=velocity
        )
        return -step, new_state

    return elementwise_optimizer(
        rule,
        RmspropState,
        {
            "mean_square": initial_scale,
            "mean_gradient": 0.0 if centered else None,
            "velocity": None if momentum is None else 0.0,
        },
        learning_rate,
        state_dtype=state_dtype,
        real_fields=("mean_square",),
        weight_decay=weight_decay,
        decoupled_weight_decay=decoupled_weight_decay,
        maximize=maximize,
        complex_convention=complex_convention,
    )


@hyperparameters("learning_rate", "rho", "eps", "weight_decay")
def adadelta(
    learning_rate: ScalarOrSchedule = 1.0,
    rho: float = 0.95,
    eps: float = 1e-6,
    *,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
    complex_convention: str = "optax",
    state_dtype: Any = None,
) -> optax.GradientTransformationExtraArgs:
    """Adadelta: a step whose units come from the running mean of past steps.

    ``E[g²] = ρ·E[g²] + (1 − ρ)·g²;  Δ = sqrt(E[Δ²] + eps) / sqrt(E[g²] + eps) · g;
    E[Δ²] = ρ·E[Δ²] + (1 − ρ)·Δ²;  p -= lr·Δ``, both means from 0 (E[Δ²]
    takes the step before the learning rate, as torch, optax and Keras do).

    Defaults are the paper's (ρ = 0.95, eps = 1e-6, no learning rate: 1).
    ``torch.optim.Adadelta(lr)`` (ρ 0.9) is ``adadelta(lr, rho=0.9)``; optax
    ``adadelta(lr, rho=0.9)`` is ``adadelta(lr, rho=0.9)`` as well, but optax's
    default ``learning_rate=None`` applies no scaling at all, not even the sign
    flip, so its updates climb the loss (the table documents it); Keras
    ``Adadelta(lr)`` (ρ 0.95, eps 1e-7) is ``adadelta(lr, eps=1e-7)``. The other
    knobs: see ``plumbing``. Zeiler (2012), "ADADELTA: an adaptive learning rate
    method".
    """
    check_hyperparameter("learning_rate", learning_rate)
    check_hyperparameter("rho", rho, high=1.0)
    check_eps("eps", eps, denominator="sqrt(E[g²] + eps)")

    def rule(grad, state, param, step_size):
        mean_square = rho * state.mean_square + (1 - rho) * squared_magnitude(grad)
        delta = jnp.sqrt(state.mean_square_delta + eps) / jnp.sqrt(mean_square + eps) * grad
        mean_square_delta = rho * state.mean_square_delta + (1 - rho) * squared_magnitude(delta)
        new_state = state._replace(mean_square=mean_square, mean_square_delta=mean_square_delta)
        return -step_size * delta, new_state

    return elementwise_optimizer(
        rule,
        AdadeltaState,
        {"mean_square": 0.0, "mean_square_delta": 0.0},
        learning_rate,
        state_dtype=state_dtype,
        real_fields=("mean_square", "mean_square_delta"),
        weight_decay=weight_decay,
        decoupled_weight_decay=decoupled_weight_decay,
        maximize=maximize,
        complex_convention=complex_convention,
    )
