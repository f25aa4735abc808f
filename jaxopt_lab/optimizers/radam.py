"""RAdam: Adam whose adaptive step is rectified by the variance of its learning rate."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
import optax

from jaxopt_lab.optimizers.adam import AdamState
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
)


def _rho_infinity(b2: Any, dtype: Any) -> Any:
    """rho_inf = 2 / (1 - b2) - 1, in float64 for a concrete b2."""
    if isinstance(b2, (int, float, np.floating)):
        return jnp.asarray(2.0 / (1.0 - float(b2)) - 1.0, dtype)
    return 2 / (1 - jnp.asarray(b2, dtype)) - 1


@hyperparameters("learning_rate", "b1", "b2", "eps", "threshold", "weight_decay")
def radam(
    learning_rate: ScalarOrSchedule = 0.001,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    *,
    threshold: float = 5.0,
    eps_hat: bool = False,
    bias_correction: str = "accurate",
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
    complex_convention: str = "optax",
    state_dtype: Any = None,
) -> optax.GradientTransformationExtraArgs:
    """RAdam (rectified Adam).

    Adam's moments; ``rho_inf = 2 / (1 - b2) - 1``,
    ``rho_t = rho_inf - 2 t b2**t / (1 - b2**t)``. While ``rho_t <= threshold``
    the step is momentum alone, ``p -= lr * m_hat``; after::

        r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
        p -= lr * r_t * m_hat / (sqrt(v_hat) + eps)                       (eps_hat=False)
        p -= lr * r_t * m_hat * sqrt(1 - b2**t) / (sqrt(v) + eps)         (eps_hat=True)

    Defaults are torch's (the paper's Algorithm 2 tests ``rho_t > 4``; its
    reference code, torch and optax use 5). ``torch.optim.RAdam(lr)`` is
    ``radam(lr, eps_hat=True)`` (torch folds the correction into eps's side);
    optax ``radam(lr)`` is ``radam(lr)`` (optax tests ``rho_t >= 5``, the same
    test for every b2 where rho_t never equals 5 exactly, as for 0.999).
    torch's ``RAdam(weight_decay=wd)`` is coupled (``weight_decay=wd`` here),
    ``decoupled_weight_decay=True`` is torch's. rho_t is computed from an
    accurate ``1 - b2**t``: optax's float32 ``1 - b2**t`` makes its rho_6 off
    by 0.03 for b2 = 0.999; ``bias_correction="float32"`` takes optax's (see
    :func:`~jaxopt_lab.adam`). The other knobs: see ``plumbing``. Liu et al.
    (2020), "On the variance of the adaptive learning rate and beyond".
    """
    check_hyperparameter("learning_rate", learning_rate)
    check_hyperparameter("b1", b1, high=1.0)
    check_hyperparameter("b2", b2, high=1.0)
    check_hyperparameter(
        "threshold", threshold, low=4.0, low_inclusive=False, why="r_t needs rho_t > 4"
    )
    check_eps("eps", eps, denominator="sqrt(v_hat) + eps")
    check_choice("bias_correction", bias_correction, BIAS_CORRECTIONS)

    def rule(grad, state, param, step_size):
        real = grad.real.dtype
        correction1, correction2 = bias_corrections(state, b1, b2, grad.dtype, bias_correction)
        t = jnp.asarray(state.count).astype(correction2.dtype) + 1
        first_moment = state.first_moment + (1 - b1) * (grad - state.first_moment)
        second_moment = state.second_moment + (1 - b2) * (
            squared_magnitude(grad) - state.second_moment
        )
        rho_inf = _rho_infinity(b2, correction2.dtype)
        rho = rho_inf - 2 * t * (1 - correction2) / correction2
        rectified = rho > threshold
        safe_rho = jnp.where(rectified, rho, 5.0)  # keep the unused branch finite
        rectifier = jnp.sqrt(
            (safe_rho - 4) * (safe_rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * safe_rho)
        ).astype(real)
        first_unbiased = first_moment / correction1.astype(real)
        if eps_hat:  # torch: m_hat * sqrt(1 - b2**t) / (sqrt(v) + eps) * r_t
            adaptive = jnp.sqrt(correction2).astype(real) / (jnp.sqrt(second_moment) + eps)
            rectified_step = first_unbiased * adaptive * rectifier
        else:  # optax: r_t * m_hat / (sqrt(v_hat) + eps)
            denominator = jnp.sqrt(second_moment / correction2.astype(real)) + eps
            rectified_step = rectifier * first_unbiased / denominator
        direction = jnp.where(rectified, rectified_step, first_unbiased)
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
