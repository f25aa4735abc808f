"""Lion: the sign of an interpolated momentum."""

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


class LionState(NamedTuple):
    """State of :func:`lion`: optax's ``mu``, Keras's ``momentums``."""

    count: jax.Array
    momentum: Any


@hyperparameters("learning_rate", "b1", "b2", "weight_decay")
def lion(
    learning_rate: ScalarOrSchedule = 1e-4,
    b1: float = 0.9,
    b2: float = 0.99,
    weight_decay: float = 0.0,
    *,
    maximize: bool = False,
    state_dtype: Any = None,
) -> optax.GradientTransformationExtraArgs:
    """Lion (EvoLved Sign Momentum).

    ``c = b1 * m + (1 - b1) * g;  p -= lr * (sign(c) + weight_decay * p);
    m = b2 * m + (1 - b2) * g``, m from 0. The weight decay is decoupled and
    scaled by the learning rate. ``update`` needs params when ``weight_decay``
    is not 0. ``maximize`` as in ``plumbing``; complex params take the complex
    sign ``c / |c|`` (optax's ``jnp.sign``).

    Defaults: b1, b2 and weight decay 0 from the paper's reference code
    (``google/automl``, ``lion_pytorch.py``), learning rate 1e-4 from there too
    (torch has no Lion). optax ``lion(lr, b1, b2, weight_decay=wd)`` is
    ``lion(lr, b1, b2, wd)`` (optax's default weight decay is 1e-3); Keras
    ``Lion(lr, beta_1, beta_2, weight_decay=wd)`` is the same update with the
    decay applied to p before the step (``p -= p * wd * lr``): equal in exact
    arithmetic, rounded differently.
    Chen et al. (2023), "Symbolic discovery of optimization algorithms".
    """
    check_hyperparameter("learning_rate", learning_rate)
    check_hyperparameter("b1", b1, high=1.0)
    check_hyperparameter("b2", b2, high=1.0)
    check_hyperparameter("weight_decay", weight_decay)
    decays = not is_concrete_zero(weight_decay)

    def rule(grad, state, param, step_size):
        interpolation = (1 - b1) * grad + b1 * state.momentum
        direction = jnp.sign(interpolation)
        if decays:
            direction = direction + weight_decay * param
        momentum = (1 - b2) * grad + b2 * state.momentum
        return -step_size * direction, state._replace(momentum=momentum)

    return elementwise_optimizer(
        rule,
        LionState,
        {"momentum": 0.0},
        learning_rate,
        state_dtype=state_dtype,
        needs_params=decays,
        maximize=maximize,
    )
