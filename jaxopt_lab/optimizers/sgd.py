"""Gradient descent, heavy-ball momentum and Nesterov momentum."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import optax

from jaxopt_lab.optimizers.plumbing import (
    ScalarOrSchedule,
    check_hyperparameter,
    elementwise_optimizer,
    hyperparameters,
)


class SgdState(NamedTuple):
    """State of :func:`sgd`: only the step count (for schedules)."""

    count: jax.Array


class MomentumState(NamedTuple):
    """State of :func:`momentum` and :func:`nesterov`.

    ``velocity`` is the seed's ``v``: the (negative, learning-rate-scaled)
    running step, ``v = momentum * v - lr * g``.
    """

    count: jax.Array
    velocity: Any


@hyperparameters("learning_rate")
def sgd(learning_rate: ScalarOrSchedule = 0.01) -> optax.GradientTransformation:
    """Stochastic gradient descent.

    ``p -= lr * g``. Equals optax ``sgd(lr)``, ``torch.optim.SGD(lr)`` and
    Keras ``SGD(lr)``.
    """
    check_hyperparameter("learning_rate", learning_rate)

    def rule(grad, state, param, step_size):
        return -step_size * grad, state

    return elementwise_optimizer(rule, SgdState, {}, learning_rate)


@hyperparameters("learning_rate", "momentum")
def momentum(
    learning_rate: ScalarOrSchedule = 0.01,
    momentum: float = 0.9,
    *,
    state_dtype: Any = None,
) -> optax.GradientTransformation:
    """SGD with (heavy-ball) momentum, in the seed's velocity form.

    ``v = momentum * v - lr * g;  p += v``, v starting at 0. Identical to Keras
    ``SGD(lr, momentum)``; equal in exact arithmetic (for a constant learning
    rate) to optax ``sgd(lr, momentum)`` and ``torch.optim.SGD(lr, momentum)``,
    which keep ``b = momentum * b + g`` and step ``-lr * b``.
    Polyak (1964), "Some methods of speeding up the convergence of iteration methods".
    """
    check_hyperparameter("learning_rate", learning_rate)
    check_hyperparameter("momentum", momentum, high=1.0)

    def rule(grad, state, param, step_size):
        velocity = momentum * state.velocity - step_size * grad
        return velocity, state._replace(velocity=velocity)

    return elementwise_optimizer(
        rule, MomentumState, {"velocity": 0.0}, learning_rate, state_dtype=state_dtype
    )


@hyperparameters("learning_rate", "momentum")
def nesterov(
    learning_rate: ScalarOrSchedule = 0.01,
    momentum: float = 0.9,
    *,
    state_dtype: Any = None,
) -> optax.GradientTransformation:
    """Nesterov accelerated gradient, in the standard form.

    ``v = momentum * v - lr * g;  p += momentum * v - lr * g``. Identical to
    Keras ``SGD(lr, momentum, nesterov=True)``; equal in exact arithmetic (for a
    constant learning rate) to optax ``sgd(lr, momentum, nesterov=True)`` and
    ``torch.optim.SGD(lr, momentum, nesterov=True)``. It differs from the
    seed's ``Nesterov`` class (``p += momentum**2 * v - (1 + momentum) * lr * g``),
    which is kept, as written, in ``jaxopt_lab.reference``.
    Sutskever et al. (2013), "On the importance of initialization and momentum".
    """
    check_hyperparameter("learning_rate", learning_rate)
    check_hyperparameter("momentum", momentum, high=1.0)

    def rule(grad, state, param, step_size):
        velocity = momentum * state.velocity - step_size * grad
        return momentum * velocity - step_size * grad, state._replace(velocity=velocity)

    return elementwise_optimizer(
        rule, MomentumState, {"velocity": 0.0}, learning_rate, state_dtype=state_dtype
    )
