"""Workloads for tuning studies: the :class:`Workload` protocol and the built-in ones.

``WORKLOADS[name]()`` builds a workload (MNIST is read on first use, through
:mod:`jaxopt_lab.data`); :func:`get_workload` accepts a name or a workload.

The built-in ones (name: what; metric; target):

- ``noisy_quadratic``: Zhang et al. (2019), h_i = 1/i over 10^4 dims; the exact loss
  (min); see the targets;
- ``rosenbrock``: the 2-D lab's valley from (-1.2, 1); f (min); see the targets;
- ``mnist_mlp``: AlgoPerf's MNIST 784-128-10 sigmoid network; validation accuracy; > 0.97;
- ``tutorial_mlp``: the tutorial's 784-100x4-10 ReLU network; validation accuracy; see the
  targets;
- ``modular_addition``: (a + b) mod 97, 40% of the pairs train; validation accuracy; > 0.99.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from jaxopt_lab.workloads import classification, modular_addition, noisy_quadratic, rosenbrock
from jaxopt_lab.workloads.protocol import DIRECTIONS, Workload, sample_rows
from jaxopt_lab.workloads.targets import TARGETS

WORKLOADS: dict[str, Callable[[], Workload]] = {
    "noisy_quadratic": functools.cache(noisy_quadratic.workload),
    "rosenbrock": functools.cache(rosenbrock.workload),
    "mnist_mlp": functools.cache(classification.mnist_mlp),
    "tutorial_mlp": functools.cache(classification.tutorial_mlp),
    "modular_addition": functools.cache(modular_addition.workload),
}
"""The built-in workloads by name: each a function that builds it (cached)."""


def get_workload(workload: Workload | str) -> Workload:
    """A :class:`Workload` from itself or a name in :data:`WORKLOADS` (``ValueError`` naming
    the valid ones otherwise)."""
    if isinstance(workload, Workload):
        return workload
    if isinstance(workload, str) and workload in WORKLOADS:
        return WORKLOADS[workload]()
    raise ValueError(f"unknown workload {workload!r}; valid workloads: {', '.join(WORKLOADS)}")


__all__ = ["DIRECTIONS", "TARGETS", "WORKLOADS", "Workload", "get_workload", "sample_rows"]
