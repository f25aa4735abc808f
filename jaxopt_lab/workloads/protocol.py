"""What a tuning study trains: the :class:`Workload` protocol.

A workload is everything a study needs besides the optimizer, as pure functions
and arrays (AlgoPerf's ``spec.Workload``, without its input pipelines):

* ``init_params(key) -> params``: the initial parameters (a pytree) from a key;
* ``sample_batch(train, key) -> batch``: one training batch drawn from the
  training arrays (default :func:`sample_rows`: ``batch_size`` rows with
  replacement, the tutorial's ``np.random.choice``);
* ``loss(params, batch, label_smoothing) -> scalar``: the training loss of a
  batch (``label_smoothing`` is traced; workloads without one ignore it);
* ``validation_metric(params, validation) -> scalar``: measured on the
  validation arrays, held out of the training arrays; ``target`` and
  ``direction`` (``"maximize"`` or ``"minimize"``) say when a trial has reached
  the target (strictly beyond it, as AlgoPerf's ``has_reached_validation_target``);
* ``batch_size``, ``steps`` (the step budget), ``eval_every`` (steps between
  evaluations) and ``label_smoothing`` (``None``: not a tunable of this workload).

A user's own workload is one constructor call: ``Workload("mine", init, loss,
metric, train=(x, y), validation=(xv, yv), target=0.9, direction="maximize",
batch_size=64, steps=1000, eval_every=100)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

DIRECTIONS = ("maximize", "minimize")


def sample_rows(batch_size: int) -> Callable[[tuple, jax.Array], tuple]:
    """``sample_batch`` drawing ``batch_size`` rows (with replacement) of every training array."""

    def sample(train: tuple, key: jax.Array) -> tuple:
        rows = jax.random.randint(key, (batch_size,), 0, train[0].shape[0], dtype=jnp.int32)
        return tuple(array[rows] for array in train)

    return sample


@dataclass(frozen=True, eq=False)
class Workload:
    """A training problem with a validation target; see the module docstring.

    ``train``, ``validation`` and ``test`` are tuples of NumPy arrays (the test
    split may be empty). ``metric_name`` names the validation metric in tables.
    """

    name: str
    init_params: Callable[[jax.Array], Any]
    loss: Callable[[Any, Any, jax.Array], jax.Array]
    validation_metric: Callable[[Any, tuple], jax.Array]
    train: tuple = ()
    validation: tuple = ()
    test: tuple = ()
    target: float = 0.0
    direction: str = "maximize"
    batch_size: int = 1
    steps: int = 1000
    eval_every: int = 100
    label_smoothing: float | None = None
    metric_name: str = "validation metric"
    sample_batch: Callable[[tuple, jax.Array], Any] | None = field(default=None)
    description: str = ""

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        for name in ("batch_size", "steps", "eval_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.steps % self.eval_every:
            raise ValueError(
                f"steps ({self.steps}) must be a multiple of eval_every ({self.eval_every})"
            )
        if not np.isfinite(self.target):
            raise ValueError(f"target must be a finite number, got {self.target!r}")
        for split in ("train", "validation", "test"):
            object.__setattr__(self, split, tuple(np.asarray(a) for a in getattr(self, split)))
        if self.sample_batch is None:
            if not self.train:
                raise ValueError("a workload without training arrays needs its own sample_batch")
            object.__setattr__(self, "sample_batch", sample_rows(self.batch_size))

    def reached(self, metric: Any) -> np.ndarray:
        """Whether ``metric`` (array) is strictly beyond the target; NaN never is."""
        metric = np.asarray(metric, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            if self.direction == "maximize":
                return metric > self.target
            return metric < self.target

    def better(self, metric: Any) -> np.ndarray:
        """``metric`` turned so that larger is better, NaN as ``-inf`` (for ranking trials)."""
        metric = np.asarray(metric, dtype=np.float64)
        signed = metric if self.direction == "maximize" else -metric
        return np.where(np.isnan(signed), -np.inf, signed)
