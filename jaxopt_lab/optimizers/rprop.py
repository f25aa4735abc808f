"""Rprop: a step size per coordinate, grown or shrunk by the sign of the gradient."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.optimizers.plumbing import (
    elementwise_optimizer,
)
from jaxopt_lab.optimizers.validation import (
    check_hyperparameter,
    hyperparameters,
    is_concrete,
)


class RpropState(NamedTuple):
    """State of :func:`rprop`: each coordinate's step size and the last gradient it used."""

    count: jax.Array
    step_size: Any
    previous_gradient: Any


@hyperparameters("learning_rate", "eta_minus", "eta_plus", "min_step_size", "max_step_size")
def rprop(
    learning_rate: float = 0.1,
    eta_minus: float = 0.5,
    eta_plus: float = 1.2,
    *,
    min_step_size: float = 1e-6,
    max_step_size: float = 50.0,
    maximize: bool = False,
    complex_convention: str = "optax",
    state_dtype: Any = None,
) -> optax.GradientTransformationExtraArgs:
    """Rprop (resilient propagation), in the form without weight backtracking.

    Every coordinate keeps a step size Δ (starting at ``learning_rate``) and
    its last gradient g' (starting at 0)::

        s = sign(g * g');  Δ = clip(Δ * (eta_plus if s > 0 else eta_minus if s < 0 else 1),
                                    min_step_size, max_step_size)
        g = 0 where s < 0;  p -= sign(g) * Δ;  g' = g

    so a gradient that changed sign shrinks the step and skips this update.

    Defaults are the paper's (Δ0 = 0.1, η- = 0.5, η+ = 1.2, Δ in [1e-6, 50]).
    ``torch.optim.Rprop(lr)`` is ``rprop(lr)``. optax ``rprop(lr)`` has the
    same rule but returns the update computed one step earlier (its first
    update is 0, every later one lags a step: optax PR #1725): no setting here
    reproduces it, and the table documents the difference. The learning rate
    is only the initial step size (not a schedule). There is no weight decay:
    the step uses only the gradient's sign. Complex params need
    ``complex_convention="torch"`` (torch's: each part its own coordinate).
    Riedmiller and Braun (1993), "A direct adaptive method for faster
    backpropagation learning: the RPROP algorithm"; the variant is Igel and
    Hüsken's (2000) iRprop-.
    """
    check_hyperparameter("learning_rate", learning_rate)
    check_hyperparameter("eta_minus", eta_minus, low_inclusive=False, high=1.0)
    check_hyperparameter("eta_plus", eta_plus, low=1.0, low_inclusive=False)
    check_hyperparameter("min_step_size", min_step_size)
    check_hyperparameter("max_step_size", max_step_size)
    if is_concrete(min_step_size) and is_concrete(max_step_size) and min_step_size > max_step_size:
        raise ValueError(
            f"min_step_size must be <= max_step_size, got {min_step_size!r} > {max_step_size!r}"
        )

    def rule(grad, state, param, step_size):
        sign = jnp.sign(grad * state.previous_gradient)
        factor = jnp.where(sign > 0, eta_plus, jnp.where(sign < 0, eta_minus, 1.0))
        size = jnp.clip(state.step_size * factor.astype(grad.dtype), min_step_size, max_step_size)
        grad = jnp.where(sign < 0, jnp.zeros_like(grad), grad)
        new_state = state._replace(step_size=size, previous_gradient=grad)
        return -jnp.sign(grad) * size, new_state

    return elementwise_optimizer(
        rule,
        RpropState,
        {"step_size": learning_rate, "previous_gradient": 0.0},
        learning_rate,
        state_dtype=state_dtype,
        complex_rule=False,
        maximize=maximize,
        complex_convention=complex_convention,
    )
