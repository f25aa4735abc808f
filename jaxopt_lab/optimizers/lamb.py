"""LAMB: Adam's step rescaled, leaf by leaf, by a trust ratio."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.optimizers.adam import (
    MOMENT_FORMS,
    _adam_direction,
    _check_adam_hyperparameters,
)
from jaxopt_lab.optimizers.plumbing import (
    BIAS_CORRECTIONS,
    ScalarOrSchedule,
    elementwise_optimizer,
)
from jaxopt_lab.optimizers.validation import (
    check_choice,
    check_hyperparameter,
    hyperparameters,
)


class LambState(NamedTuple):
    """State of :func:`lamb`: Adam's two moments (optax's ``mu`` and ``nu``)."""

    count: jax.Array
    first_moment: Any
    second_moment: Any


def trust_ratio(param: Any, direction: Any) -> Any:
    """``||param|| / ||direction||`` over the whole leaf, or 1 where either norm is 0."""
    param_norm = jnp.linalg.norm(param)
    direction_norm = jnp.linalg.norm(direction)
    usable = (param_norm > 0) & (direction_norm > 0)
    return jnp.where(usable, param_norm / jnp.where(usable, direction_norm, 1), 1).astype(
        direction.dtype
    )


@hyperparameters("learning_rate", "b1", "b2", "eps", "weight_decay", "eps_root")
def lamb(
    learning_rate: ScalarOrSchedule = 0.001,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-6,
    weight_decay: float = 0.0,
    *,
    eps_root: float = 0.0,
    decay_in_trust_ratio: bool = True,
    bias_correction: str = "accurate",
    moment_form: str = "lerp",
    maximize: bool = False,
    state_dtype: Any = None,
) -> optax.GradientTransformationExtraArgs:
    """LAMB (layer-wise adaptive moments for batch training).

    Adam's direction ``r = m_hat / (sqrt(v_hat + eps_root) + eps)`` (moments
    as in :func:`adam` with ``eps_hat=False``), then per leaf::

        d = r + weight_decay * p
        p -= lr * (||p|| / ||d||) * d                  (decay_in_trust_ratio=True)

    the paper's Algorithm 2 (with phi the identity) and optax ``lamb``; the
    ratio is 1 where either norm is 0. With ``decay_in_trust_ratio=False``
    (Keras) the decay is a step of its own and the ratio sees only Adam's
    direction, measured against the decayed weights::

        p' = p - lr * weight_decay * p;  p = p' - lr * (||p'|| / ||r||) * r

    ``update`` needs params; ``maximize`` as in ``plumbing``. Defaults: b1, b2
    and eps from the paper; learning rate 1e-3 (Keras's; the paper gives none
    and torch has no LAMB); no weight decay (optax and Keras; the paper's BERT
    runs use 0.01).
    optax ``lamb(lr, b1, b2, eps, weight_decay=wd)`` is ``lamb(lr, b1, b2, eps,
    wd)``; Keras ``Lamb(lr, beta_1, beta_2, epsilon, weight_decay=wd)`` is
    ``lamb(lr, beta_1, beta_2, epsilon, wd, decay_in_trust_ratio=False)``.
    ``bias_correction`` and ``moment_form``: optax's and Keras's rounding of Adam's
    direction, as in :func:`~jaxopt_lab.adam`.
    You et al. (2020), "Large batch optimization for deep learning: training
    BERT in 76 minutes".
    """
    _check_adam_hyperparameters(learning_rate, b1, b2, eps, eps_root)
    check_hyperparameter("weight_decay", weight_decay)
    check_choice("bias_correction", bias_correction, BIAS_CORRECTIONS)
    check_choice("moment_form", moment_form, MOMENT_FORMS)

    def rule(grad, state, param, step_size):
        direction, first_moment, second_moment = _adam_direction(
            grad, state, b1, b2, eps, eps_root, False, bias_correction, moment_form
        )
        new_state = state._replace(first_moment=first_moment, second_moment=second_moment)
        if decay_in_trust_ratio:
            direction = direction + weight_decay * param
            return -step_size * (trust_ratio(param, direction) * direction), new_state
        decay = step_size * weight_decay * param
        ratio = trust_ratio(param - decay, direction)
        return -decay - step_size * (ratio * direction), new_state

    return elementwise_optimizer(
        rule,
        LambState,
        {"first_moment": 0.0, "second_moment": 0.0},
        learning_rate,
        state_dtype=state_dtype,
        needs_params=True,
        real_fields=("second_moment",),
        maximize=maximize,
    )
