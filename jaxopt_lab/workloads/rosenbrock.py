"""``rosenbrock``: the 2-D lab's Rosenbrock valley as a deterministic workload.

``f(x, y) = (1 - x)² + 100 (y - x²)²`` from :data:`jaxopt_lab.problems.PROBLEMS`,
started at its classic start (-1.2, 1) (the key is not used: every study starts
there). There is no data and no noise; the "validation metric" is ``f`` itself
(minimized) and the training loss is the same ``f``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxopt_lab.problems import PROBLEMS
from jaxopt_lab.workloads.protocol import Workload
from jaxopt_lab.workloads.targets import TARGETS

PROBLEM = PROBLEMS["rosenbrock"]


def init_params(key: jax.Array) -> jax.Array:
    del key
    return jnp.asarray(PROBLEM.start, jnp.float32)


def loss(params: jax.Array, batch: None, label_smoothing: jax.Array) -> jax.Array:
    del batch, label_smoothing
    return PROBLEM.function(params)


def validation_metric(params: jax.Array, validation: tuple) -> jax.Array:
    del validation
    return PROBLEM.function(params)


def workload(steps: int = 2000, eval_every: int = 20) -> Workload:
    """The Rosenbrock workload: ``steps`` updates, evaluated every ``eval_every``."""
    return Workload(
        "rosenbrock", init_params, loss, validation_metric,
        target=TARGETS["rosenbrock"], direction="minimize", batch_size=1, steps=steps,
        eval_every=eval_every, metric_name="f(x, y)", sample_batch=lambda train, key: None,
        description="Rosenbrock's valley from (-1.2, 1); minimum 0 at (1, 1)",
    )  # fmt: skip
