"""Gradient descent, heavy-ball momentum and Nesterov momentum."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.optimizers.plumbing import (
    ScalarOrSchedule,
    elementwise_optimizer,
)
from jaxopt_lab.optimizers.validation import (
    check_hyperparameter,
    hyperparameters,
    is_concrete_zero,
)


class SgdState(NamedTuple):
    """State of :func:`sgd`: the step count (for schedules) and the params' structure.

    ``structure`` is the params' tree structure (a static ``TreeStructure``, no
    data): ``update`` checks grads against it when no params are passed.
    """

    count: jax.Array
    structure: Any


class MomentumState(NamedTuple):
    """State of :func:`momentum` and :func:`nesterov`.

    ``velocity`` is the tutorial's ``v``: the (negative, learning-rate-scaled)
    running step, ``v = momentum * v - lr * g``.
    """

    count: jax.Array
    velocity: Any


@hyperparameters("learning_rate", "weight_decay")
def sgd(
    learning_rate: ScalarOrSchedule = 0.01,
    *,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
    complex_convention: str = "optax",
) -> optax.GradientTransformationExtraArgs:
    """Stochastic gradient descent.

    ``p -= lr * g``. Equals optax ``sgd(lr)``, ``torch.optim.SGD(lr)`` and
    Keras ``SGD(lr)``. ``weight_decay``, ``decoupled_weight_decay``,
    ``maximize`` and ``complex_convention``: see ``plumbing`` (torch's
    ``SGD(weight_decay=wd)`` is ``sgd(weight_decay=wd)``; Keras's
    ``SGD(weight_decay=wd)`` is ``sgd(weight_decay=wd, decoupled_weight_decay=True)``).
    """
    check_hyperparameter("learning_rate", learning_rate)

    def rule(grad, state, param, step_size):
        return -step_size * grad, state

    return elementwise_optimizer(
        rule,
        SgdState,
        {},
        learning_rate,
        weight_decay=weight_decay,
        decoupled_weight_decay=decoupled_weight_decay,
        maximize=maximize,
        complex_convention=complex_convention,
    )


@hyperparameters("learning_rate", "momentum", "dampening", "weight_decay")
def momentum(
    learning_rate: ScalarOrSchedule = 0.01,
    momentum: float = 0.9,
    *,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
    complex_convention: str = "optax",
    state_dtype: Any = None,
) -> optax.GradientTransformationExtraArgs:
    """SGD with (heavy-ball) momentum, in the tutorial's velocity form.

    ``v = momentum * v - lr * g;  p += v``, v starting at 0. Identical to Keras
    ``SGD(lr, momentum)``; equal in exact arithmetic (for a constant learning
    rate) to optax ``sgd(lr, momentum)`` and ``torch.optim.SGD(lr, momentum)``,
    which keep ``b = momentum * b + g`` and step ``-lr * b``.

    ``dampening`` is torch's: ``v = momentum * v - lr * (1 - dampening) * g``
    from the second step on (torch's first buffer is ``g`` itself, undamped),
    so ``torch.optim.SGD(lr, momentum, dampening=d)`` is
    ``momentum(lr, momentum, dampening=d)``. The other knobs: see ``plumbing``.
    Polyak (1964), "Some methods of speeding up the convergence of iteration methods".
    """
    check_hyperparameter("learning_rate", learning_rate)
    check_hyperparameter("momentum", momentum, high=1.0)
    check_hyperparameter("dampening", dampening, high=1.0)
    damped = not is_concrete_zero(dampening)

    def rule(grad, state, param, step_size):
        if damped:  # torch: no dampening on the first step
            grad = jnp.where(state.count == 0, 1, 1 - dampening).astype(grad.real.dtype) * grad
        velocity = momentum * state.velocity - step_size * grad
        return velocity, state._replace(velocity=velocity)

    return elementwise_optimizer(
        rule,
        MomentumState,
        {"velocity": 0.0},
        learning_rate,
        state_dtype=state_dtype,
        weight_decay=weight_decay,
        decoupled_weight_decay=decoupled_weight_decay,
        maximize=maximize,
        complex_convention=complex_convention,
    )


@hyperparameters("learning_rate", "momentum", "weight_decay")
def nesterov(
    learning_rate: ScalarOrSchedule = 0.01,
    momentum: float = 0.9,
    *,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
    complex_convention: str = "optax",
    state_dtype: Any = None,
) -> optax.GradientTransformationExtraArgs:
    """Nesterov accelerated gradient, in the standard form.

    ``v = momentum * v - lr * g;  p += momentum * v - lr * g``. Identical to
    Keras ``SGD(lr, momentum, nesterov=True)``; equal in exact arithmetic (for a
    constant learning rate) to optax ``sgd(lr, momentum, nesterov=True)`` and
    ``torch.optim.SGD(lr, momentum, nesterov=True)``. It differs from the
    tutorial's ``Nesterov`` class (``p += momentum**2 * v - (1 + momentum) * lr * g``),
    which is kept, as written, in ``jaxopt_lab.reference``. The knobs: see
    ``plumbing``. Sutskever et al. (2013), "On the importance of initialization
    and momentum".
    """
    check_hyperparameter("learning_rate", learning_rate)
    check_hyperparameter("momentum", momentum, high=1.0)

    def rule(grad, state, param, step_size):
        velocity = momentum * state.velocity - step_size * grad
        return momentum * velocity - step_size * grad, state._replace(velocity=velocity)

    return elementwise_optimizer(
        rule,
        MomentumState,
        {"velocity": 0.0},
        learning_rate,
        state_dtype=state_dtype,
        weight_decay=weight_decay,
        decoupled_weight_decay=decoupled_weight_decay,
        maximize=maximize,
        complex_convention=complex_convention,
    )
