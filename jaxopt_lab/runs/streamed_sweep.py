"""A sweep too large to hold in memory (10⁸ points), streamed to a Parquet file.

:func:`sweep_to_file` runs :func:`jaxopt_lab.two_d.sweep`'s program chunk by
chunk, writes each chunk's results as a row group as soon as it is computed, and
keeps only counts, the best setting, and a bounded strided sample for plotting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxopt_lab.problems import Function2D, Problem
from jaxopt_lab.two_d import MakeOptimizer, SweepResult, plan_sweep

SAMPLE_POINTS = 250_000
"""The plotted sub-grid's size, at most (see ``SAMPLE_PER_AXIS``)."""
SAMPLE_PER_AXIS = 10_000
""":func:`sweep_to_file` keeps a strided sub-grid of at most about ``SAMPLE_POINTS``
points, and ``SAMPLE_PER_AXIS`` values of any one axis, for plotting."""

STREAM_CHUNK_POINTS = 1 << 20
""":func:`sweep_to_file`'s default chunk: bounds its memory whatever the grid."""


@dataclass(frozen=True)
class SweepSummary:
    """What :func:`sweep_to_file` returns: the file, counts, the best setting, a sample.

    ``axes`` are the whole grid's; ``sample`` is a :class:`SweepResult` on a
    strided sub-grid of at most about :data:`SAMPLE_POINTS` points whose
    ``best()`` is the whole grid's: what :func:`~jaxopt_lab.report.figures.plot_sweep`
    draws. ``best`` is ``None`` when every run diverged.
    """

    path: Path | None
    axes: dict[str, np.ndarray]
    shape: tuple[int, ...]
    point_count: int
    diverged_count: int
    best: tuple[dict[str, float], float] | None
    sample: SweepResult

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON: no per-point values (those are in the Parquet file)."""
        sample = self.sample
        summary = {
            "problem": sample.problem,
            "steps": sample.steps,
            "start": list(sample.start),
            "axes": {name: _axis_summary(values) for name, values in self.axes.items()},
            "shape": list(self.shape),
            "points": self.point_count,
            "diverged": self.diverged_count,
            "divergence_threshold": sample.divergence_threshold,
            "device_count": sample.device_count,
            "chunk_count": sample.chunk_count,
            "points_file": None if self.path is None else self.path.name,
        }
        if self.best is not None:
            summary["best"] = {"hyperparameters": self.best[0], "final_loss": self.best[1]}
        return summary


def _axis_summary(values: np.ndarray) -> dict[str, Any]:
    return {"count": int(values.size), "min": float(values.min()), "max": float(values.max())}


# --------------------------------------------------------------------------- streaming to disk


def _sample_indices(shape: tuple[int, ...], limit: int) -> list[np.ndarray]:
    """Strided indices along each axis, their product at most about ``limit`` points."""
    per_axis = min(SAMPLE_PER_AXIS, max(2, int(limit ** (1 / len(shape)))))
    return [np.unique(np.linspace(0, n - 1, min(n, per_axis)).astype(np.int64)) for n in shape]


def sweep_to_file(
    make_optimizer: MakeOptimizer | str,
    grid: Mapping[str, Any],
    problem: Problem | str | Function2D,
    path: str | Path | None,
    start: Any = None,
    steps: int = 30,
    devices: Sequence[jax.Device] | None = None,
    *,
    chunk_size: int | None = STREAM_CHUNK_POINTS,
    divergence_threshold: float | None = None,
    dtype: Any = None,
    sample_points: int = SAMPLE_POINTS,
) -> SweepSummary:
    """:func:`sweep`, streamed to a Parquet file chunk by chunk, in bounded memory.

    Each chunk of points is written as a row group of ``path`` (columns: one
    per hyperparameter, ``final_loss``, ``final_x``, ``final_y``,
    ``diverged``; one row per point in grid order) as soon as it is computed,
    so memory holds one chunk (default :data:`STREAM_CHUNK_POINTS` points)
    whatever the grid's size. The file is written beside ``path`` under a
    temporary name and renamed when complete. With several processes only
    process 0 writes (every process computes); ``path=None`` writes nothing.
    Read it with ``pandas.read_parquet(path)`` or ``pyarrow.parquet.read_table``.

    Returns a :class:`SweepSummary`: counts, the best setting, and a bounded
    sample of the grid for plotting.
    """
    plan = plan_sweep(make_optimizer, grid, problem, start, steps, devices, chunk_size,
                 divergence_threshold, dtype)  # fmt: skip
    shape, names = plan.grid_map.shape, list(plan.axes)
    sample_axes = _sample_indices(shape, sample_points)
    sample_flat = np.ravel_multi_index(np.meshgrid(*sample_axes, indexing="ij"), shape).ravel()
    sample_flat.sort()
    sample_losses = np.empty(sample_flat.size, plan.start.dtype)
    sample_positions = np.empty((sample_flat.size, 2), plan.start.dtype)
    best_index, best_loss, diverged_count = -1, np.inf, 0

    writer = None
    if path is not None and jax.process_index() == 0:
        from jaxopt_lab.files import ParquetStream

        writer = ParquetStream(Path(path))
    try:
        for first, (losses, positions) in plan.grid_map.chunks(plan.start):
            diverged = plan.diverged(losses, positions)
            diverged_count += int(diverged.sum())
            kept = np.where(diverged, np.inf, losses)
            if np.any(~diverged):
                index = int(np.argmin(kept))
                if kept[index] < best_loss:
                    best_index, best_loss = first + index, float(kept[index])
            inside = (sample_flat >= first) & (sample_flat < first + len(losses))
            sample_losses[inside] = losses[sample_flat[inside] - first]
            sample_positions[inside] = positions[sample_flat[inside] - first]
            if writer is not None:
                point = plan.grid_map.points(first, len(losses))
                writer.write({
                    **point, "final_loss": losses, "final_x": positions[:, 0],
                    "final_y": positions[:, 1], "diverged": diverged,
                })  # fmt: skip
        if writer is not None:
            writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise

    sample_shape = tuple(len(index) for index in sample_axes)
    sample_axes_values = {
        name: plan.axes[name][index] for name, index in zip(names, sample_axes, strict=True)
    }
    best = None
    if best_index >= 0:
        point = plan.grid_map.points(best_index, 1)
        best = ({name: float(values[0]) for name, values in point.items()}, best_loss)
    sample = plan.result(
        axes=sample_axes_values,
        final_loss=sample_losses.reshape(sample_shape),
        final_position=sample_positions.reshape(sample_shape + (2,)),
        diverged=plan.diverged(sample_losses, sample_positions).reshape(sample_shape),
    )
    if best is not None:
        sample = replace(sample, best_setting=best)
    return SweepSummary(
        path=None if path is None else Path(path),
        axes=plan.axes,
        shape=shape,
        point_count=plan.grid_map.point_count,
        diverged_count=diverged_count,
        best=best,
        sample=sample,
    )
