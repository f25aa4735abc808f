"""Two optax transformations in torch's own order, where no lab knob gives it.

:func:`torch_decoupled_weight_decay` (AdamW's ``p *= 1 - lr*wd`` before the
step, rounded as torch rounds it) and :func:`torch_dampening` (SGD's dampening,
which spares the first step). :mod:`jaxopt_lab.port.torch_optimizers` chains
them around the lab optimizers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.port import torch_schedules
from jaxopt_lab.port.clipping import rounded


def torch_decoupled_weight_decay(
    weight_decay: float, learning_rate: Any
) -> optax.GradientTransformation:
    """torch's decoupled decay (``AdamW``): ``p *= 1 - lr * weight_decay`` before the step.

    Chain it *after* the optimizer: given its update ``u`` it returns
    ``(p * (1 - lr * wd) + u) - p``, which ``apply_updates`` turns into torch's
    ``p * (1 - lr*wd) + u`` exactly whenever the step is small against ``p``
    (Sterbenz). ``1 - lr * wd`` is computed in float64 as torch computes it in
    Python, for a number or a :class:`~jaxopt_lab.port.TabulatedSchedule`
    learning rate (in the params' dtype for any other schedule).
    """
    weight_decay = float(weight_decay)
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
    if isinstance(learning_rate, torch_schedules.TabulatedSchedule):
        after = learning_rate.after
        if callable(after):  # the closed form past the table: its factor, too
            closed_form = after
            after = lambda epoch: 1 - closed_form(epoch) * weight_decay  # noqa: E731
        factor = torch_schedules.TabulatedSchedule(
            1 - learning_rate.values * weight_decay, every=learning_rate.every, after=after
        )
    elif callable(learning_rate):
        factor = lambda count: 1 - learning_rate(count) * weight_decay
    else:
        factor = 1 - float(learning_rate) * weight_decay

    def init(params):
        del params
        return optax.ScaleByScheduleState(count=jnp.zeros([], jnp.int32))

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("torch_decoupled_weight_decay needs params: pass them to update()")
        scale = factor(state.count) if callable(factor) else factor

        def decayed(u, p):
            return (rounded(p * jnp.asarray(scale).astype(p.dtype)) + u) - p

        new_updates = jax.tree.map(decayed, updates, params)
        return new_updates, optax.ScaleByScheduleState(count=optax.safe_increment(state.count))

    return optax.GradientTransformation(init, update)


def torch_dampening(dampening: float) -> Callable:
    """torch SGD's dampening as a schedule of the count: 1 on the first step, then ``1 - d``.

    Scaling the gradient by it before ``optax.trace`` gives torch's buffer:
    ``b = g`` on the first step, ``b = mu * b + (1 - d) * g`` after.
    """
    dampening = float(dampening)
    if not 0 <= dampening <= 1:
        raise ValueError(f"dampening must be in [0, 1], got {dampening!r}")
    factor = 1 - dampening

    def schedule(count):
        return jnp.where(jnp.asarray(count) == 0, 1.0, factor)

    return schedule
