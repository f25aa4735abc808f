"""Learning-rate schedules of AlgoPerf's baselines, as functions of traced hyperparameters.

Each returns an optax-style schedule ``count -> learning rate`` (``count``: the number of updates
already made, 0 at the first), which the lab's optimizers take as their ``learning_rate``. The
peak rate and the warmup factor may be JAX tracers (a study vmaps over trials), so nothing here
branches in Python on their values; ``total_steps`` is a Python int (the workload's budget).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

Schedule = Callable[[Any], jax.Array]


def _warmup_steps(warmup_factor: Any, total_steps: int) -> jax.Array:
    """W = floor(warmup_factor * total_steps): AlgoPerf's ``int(warmup_factor * step_hint)``."""
    return jnp.floor(jnp.asarray(warmup_factor) * total_steps)


def warmup_cosine(learning_rate: Any, warmup_factor: Any, total_steps: int) -> Schedule:
    """Linear warmup over W steps, then cosine decay to 0 at ``total_steps``.

    With W = floor(warmup_factor T), C = max(T - W, 1) and t = ``count``::

        lr(t) = learning_rate * t / W                              t < W
        lr(t) = learning_rate * (1 + cos(pi min(t - W, C) / C)) / 2  t >= W

    This is ``jax_cosine_warmup`` of AlgoPerf's NAdamW/AdamW baselines
    (``reference_algorithms/paper_baselines/nadamw/jax/submission.py``, mlcommons/
    algorithmic-efficiency): ``optax.join_schedules([linear_schedule(0, lr, W),
    cosine_decay_schedule(lr, C)], [W])``, written so that lr and the warmup factor may be traced.
    """

    def schedule(count: Any) -> jax.Array:
        peak = jnp.asarray(learning_rate)
        step = jnp.asarray(count).astype(jnp.result_type(peak, jnp.float32))
        warmup = _warmup_steps(warmup_factor, total_steps).astype(step.dtype)
        decay = jnp.maximum(total_steps - warmup, 1.0)
        rising = peak * step / jnp.maximum(warmup, 1.0)
        progress = jnp.minimum(step - warmup, decay) / decay
        falling = peak * 0.5 * (1.0 + jnp.cos(jnp.pi * progress))
        return jnp.where(step < warmup, rising, falling)

    return schedule


def warmup_constant(learning_rate: Any, warmup_factor: Any, total_steps: int) -> Schedule:
    """Linear warmup to ``learning_rate`` over W = floor(warmup_factor T) steps, then constant.

    ``lr(t) = learning_rate * min(1, (t + 1) / W)`` (no warmup when W = 0): schedule-free AdamW's
    own warmup (Defazio et al. 2024, ``lr * min(1, t / warmup_steps)`` at the 1-based step t),
    as AlgoPerf's schedule-free baseline sets it (``warmup_steps = warmup_factor * step_hint``).
    Its first rate is not 0, which schedule-free's averaging weights (lr_t squared) need.
    """

    def schedule(count: Any) -> jax.Array:
        peak = jnp.asarray(learning_rate)
        step = jnp.asarray(count).astype(jnp.result_type(peak, jnp.float32))
        warmup = _warmup_steps(warmup_factor, total_steps).astype(step.dtype)
        return peak * jnp.minimum(1.0, (step + 1.0) / jnp.maximum(warmup, 1.0))

    return schedule


def constant(learning_rate: Any) -> Schedule:
    """``lr(t) = learning_rate`` at every step."""

    def schedule(count: Any) -> jax.Array:
        peak = jnp.asarray(learning_rate)
        return jnp.broadcast_to(peak, jnp.shape(count)).astype(jnp.result_type(peak, jnp.float32))

    return schedule
