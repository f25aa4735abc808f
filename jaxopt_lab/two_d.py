"""The 2-D lab: compiled trajectories and hyperparameter sweeps on the 2-D problems.

:func:`trajectory` runs one optimizer from one start as a single jit-compiled
``lax.scan`` and returns every position. :func:`sweep` runs the same program
for every point of a hyperparameter grid at once: the optimizer is built
*inside* the vmapped function from the swept values (``make_optimizer(**point)``),
so one compiled program covers the whole grid and new grid values of the same
size do not recompile. For grids too large to hold in memory (10⁸ points),
:func:`jaxopt_lab.runs.streamed_sweep.sweep_to_file` streams every point's result to
a Parquet file instead.

Devices, hosts, chunks and the CPU's cache-sized blocks are
:class:`jaxopt_lab.grid.GridMap`'s business: the same call runs on one CPU,
every GPU of a host, or every host after ``jax.distributed.initialize()``
(every process makes the same call and gets the full result).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxopt_lab.grid import GridMap, as_make_optimizer, grid_axes
from jaxopt_lab.optimizers import apply_updates
from jaxopt_lab.problems import Function2D, Problem, as_problem

MakeOptimizer = Callable[..., optax.GradientTransformation]

DIVERGENCE_FACTOR = 1e3
"""By default a run has diverged when its final loss exceeds
``DIVERGENCE_FACTOR * (|f(start)| + 1)`` (or is not finite)."""

TUTORIAL_LEARNING_RATES = {
    "sgd": 0.95,
    "momentum": 0.1,
    "adagrad": 1.5,
    "adam": 0.3,
    "nesterov": 0.1,
    "rmsprop": 0.3,
    "adamw": 0.3,
    "adadelta": 30.0,  # its steps start near sqrt(eps): tiny at lr 1
    "amsgrad": 0.3,
    "adamax": 0.3,
    "nadam": 0.3,
    "nadamw": 0.3,
    "radam": 0.5,
    "rprop": 0.1,  # the first step size; it adapts
    "adafactor": 0.1,
    "lion": 0.1,  # a sign step: 0.1 per coordinate per step
    "lamb": 0.1,
    "muon": 0.3,  # the bowl's one 1-D leaf takes the inner AdamW
    "schedule_free_adamw": 0.3,
}
"""The tutorial's figure: its four optimizers and learning rates on its bowl (30
steps from (-7, 2)); the others get rates that move visibly in 30 steps there
(every optimizer has one: a test checks it)."""

CPU_BLOCK_POINTS = 4096
"""On a CPU device the points of a chunk run in blocks of this many, one block
after another inside the compiled program (``lax.map`` with ``batch_size``), so
that each block's state stays in cache through all its steps. Accelerators run
the whole chunk at once."""

# --------------------------------------------------------------------------- arguments


def _default_float() -> jnp.dtype:
    """float64 inside ``jax.enable_x64``, float32 otherwise."""
    return jnp.result_type(float)


def _start_array(problem: Problem, start: Any, dtype: Any) -> np.ndarray:
    """The start as a host array of shape ``(2,)`` in the run's dtype."""
    if start is None:
        if problem.start is None:
            raise ValueError(f"start is required: problem {problem.name!r} has no default start")
        start = problem.start
    if dtype is None:
        given = getattr(start, "dtype", None)
        floating = given is not None and jnp.issubdtype(given, jnp.floating)
        dtype = given if floating else _default_float()
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"dtype must be a floating-point dtype, got {dtype}")
    values = np.asarray(start, dtype=np.float64)
    if values.shape != (2,) or not np.all(np.isfinite(values)):
        raise ValueError(f"start must be two finite numbers (x, y), got {start!r}")
    return np.asarray(start, dtype=np.dtype(dtype))


def _check_steps(steps: Any) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    if steps > np.iinfo(np.int32).max:
        raise ValueError(f"steps must be at most 2**31 - 1, got {steps!r}")
    return int(steps)


# --------------------------------------------------------------------------- one run


def _run(
    optimizer: optax.GradientTransformation,
    function: Function2D,
    start: jax.Array,
    steps: int,
    keep_positions: bool,
):
    gradient = jax.grad(function)

    def step(carry, _):
        position, state = carry
        updates, state = optimizer.update(gradient(position), state, position)
        position = apply_updates(position, updates)
        return (position, state), (position if keep_positions else None)

    (position, _), positions = jax.lax.scan(step, (start, optimizer.init(start)), length=steps)
    return position, positions


def _trajectory(optimizer, function, steps, start):
    _, positions = _run(optimizer, function, start, steps, keep_positions=True)
    return jnp.concatenate([start[None], positions.reshape(steps, 2)], axis=0)


_compiled_trajectory = jax.jit(_trajectory, static_argnums=(0, 1, 2))


def trajectory(
    optimizer: optax.GradientTransformation,
    problem: Problem | str | Function2D,
    start: Any = None,
    steps: int = 30,
    *,
    dtype: Any = None,
) -> jax.Array:
    """Every position of ``optimizer`` minimising ``problem``: shape ``(steps + 1, 2)``.

    Row 0 is ``start`` (default: the problem's); row ``t`` is the position
    after ``t`` updates. The whole run is one jit-compiled ``lax.scan`` (cached
    per optimizer object, function and ``steps``).

    Args:
      optimizer: any ``optax.GradientTransformation`` (e.g. ``jaxopt_lab.adam(0.3)``).
      problem: a :class:`Problem`, a name in ``PROBLEMS``, or a function ``f(xy)``.
      start: ``(x, y)``; required for a bare function.
      steps: the number of updates.
      dtype: of the positions; default the start's floating dtype, else
        float32 (float64 inside ``jax.enable_x64``).
    """
    problem = as_problem(problem)
    steps = _check_steps(steps)
    start = jnp.asarray(_start_array(problem, start, dtype))
    return _compiled_trajectory(optimizer, problem.function, steps, start)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class SweepResult:
    """The outcome of :func:`sweep`, every array shaped like the grid.

    Attributes:
      axes: each swept hyperparameter's values (1-D), in grid order; the
        grid is their full product, so ``final_loss.shape`` is
        ``tuple(len(v) for v in axes.values())``.
      final_loss: ``f`` at the final position, shape ``grid_shape``.
      final_position: shape ``grid_shape + (2,)``.
      diverged: ``True`` where the final loss or position is not finite or
        the loss exceeds ``divergence_threshold``.
      divergence_threshold: the loss above which a run counts as diverged.
      problem, steps, start: what was run.
      device_count: how many devices the sweep axis was sharded over.
      chunk_count: how many chunks the grid was run in.
      best_setting: for a sample of a larger grid (:func:`sweep_to_file`), the
        best setting of the whole grid and its loss; ``None``: computed here.
      trajectories: every position of every run, shape ``grid_shape + (steps + 1, 2)``
        (row 0 the start, as :func:`trajectory`); ``None`` unless the sweep was
        asked for them (``keep_trajectories=True``).
    """

    axes: dict[str, np.ndarray]
    final_loss: np.ndarray
    final_position: np.ndarray
    diverged: np.ndarray
    divergence_threshold: float
    problem: str
    steps: int
    start: tuple[float, float]
    device_count: int = 1
    chunk_count: int = 1
    best_setting: tuple[dict[str, float], float] | None = None
    trajectories: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.final_loss.shape

    def point(self, index: tuple[int, ...] | int) -> dict[str, float]:
        """The hyperparameters at a grid ``index``."""
        index = np.unravel_index(index, self.shape) if np.ndim(index) == 0 else index
        pairs = zip(self.axes.items(), index, strict=True)
        return {name: float(values[i]) for (name, values), i in pairs}

    def best(self) -> tuple[dict[str, float], float]:
        """The setting with the lowest final loss among runs that did not diverge.

        Raises ``ValueError`` if every run diverged.
        """
        if self.best_setting is not None:
            return self.best_setting
        if np.all(self.diverged):
            raise ValueError("every run of the sweep diverged; there is no best setting")
        losses = np.where(self.diverged, np.inf, self.final_loss)
        flat_index = int(np.argmin(losses))
        return self.point(flat_index), float(losses.reshape(-1)[flat_index])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (non-finite losses become ``None``; no trajectories)."""

        def finite_or_none(array):
            return np.where(np.isfinite(array), array, None).tolist()

        result = {
            "problem": self.problem,
            "steps": self.steps,
            "start": list(self.start),
            "axes": {name: values.tolist() for name, values in self.axes.items()},
            "shape": list(self.shape),
            "final_loss": finite_or_none(self.final_loss.astype(np.float64)),
            "final_position": finite_or_none(self.final_position.astype(np.float64)),
            "diverged": self.diverged.tolist(),
            "divergence_threshold": self.divergence_threshold,
            "device_count": self.device_count,
            "chunk_count": self.chunk_count,
        }
        if not np.all(self.diverged):
            best_point, best_loss = self.best()
            result["best"] = {"hyperparameters": best_point, "final_loss": best_loss}
        return result


# --------------------------------------------------------------------------- sweeps


@functools.lru_cache(maxsize=256)
def _point_function(make_optimizer: MakeOptimizer, function: Function2D, steps: int):
    """Final ``(loss, position)`` of one point; one object per key, so compilations are shared."""

    def one(point, start):
        position, _ = _run(make_optimizer(**point), function, start, steps, keep_positions=False)
        return function(position), position

    return one


@functools.lru_cache(maxsize=256)
def _trajectory_point_function(make_optimizer: MakeOptimizer, function: Function2D, steps: int):
    """Final ``(loss, position)`` and every position of one point (a separate program, so
    that the final-only sweep keeps its own)."""

    def one(point, start):
        position, positions = _run(
            make_optimizer(**point), function, start, steps, keep_positions=True
        )
        every = jnp.concatenate([start[None], positions.reshape(steps, 2)], axis=0)
        return function(position), position, every

    return one


@functools.lru_cache(maxsize=256)
def _loss_at(function: Function2D, start: tuple[float, float], dtype: str) -> float:
    """``f(start)`` in the run's dtype (cached: a repeated sweep pays it once)."""
    return float(jax.jit(function)(np.asarray(start, dtype=dtype)))


@functools.lru_cache(maxsize=256)
def _bytes_per_point(make_optimizer, names: tuple[str, ...], dtype: np.dtype) -> int:
    """A generous estimate of the working memory of one run: 8x its carried state."""
    start = jax.ShapeDtypeStruct((2,), dtype)
    point = {name: jax.ShapeDtypeStruct((), dtype) for name in names}
    state = jax.eval_shape(lambda point, start: make_optimizer(**point).init(start), point, start)
    carried = sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree.leaves(state))
    carried += (2 + len(names)) * dtype.itemsize
    return 8 * carried


@dataclass(frozen=True)
class SweepPlan:
    """A sweep, checked and laid out on the devices: shared by :func:`sweep` and
    :func:`~jaxopt_lab.runs.streamed_sweep.sweep_to_file`."""

    problem: Problem
    steps: int
    start: np.ndarray
    axes: dict[str, np.ndarray]
    grid_map: GridMap
    divergence_threshold: float

    def diverged(self, losses: np.ndarray, positions: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return (
                ~np.isfinite(losses)
                | ~np.isfinite(positions[:, 0])
                | ~np.isfinite(positions[:, 1])
                | (losses > self.divergence_threshold)
            )

    def result(self, **arrays: Any) -> SweepResult:
        return SweepResult(
            **arrays,
            divergence_threshold=self.divergence_threshold,
            problem=self.problem.name,
            steps=self.steps,
            start=(float(self.start[0]), float(self.start[1])),
            device_count=self.grid_map.device_count,
            chunk_count=self.grid_map.chunk_count,
        )


def plan_sweep(make_optimizer, grid, problem, start, steps, devices, chunk_size,
          divergence_threshold, dtype, keep_trajectories=False) -> SweepPlan:  # fmt: skip
    problem = as_problem(problem)
    make_optimizer = as_make_optimizer(make_optimizer)
    steps = _check_steps(steps)
    start = _start_array(problem, start, dtype)
    axes = grid_axes(make_optimizer, grid, start.dtype)
    devices = list(jax.devices() if devices is None else devices)
    bytes_per_point = _bytes_per_point(make_optimizer, tuple(axes), np.dtype(start.dtype))
    if keep_trajectories:
        point_function = _trajectory_point_function(make_optimizer, problem.function, steps)
        bytes_per_point += 2 * (steps + 1) * 2 * start.dtype.itemsize  # on device, and copied
    else:
        point_function = _point_function(make_optimizer, problem.function, steps)
    grid_map = GridMap(
        point_function,
        axes,
        devices=devices,
        chunk_size=chunk_size,
        bytes_per_point=bytes_per_point,
        block=CPU_BLOCK_POINTS if devices and devices[0].platform == "cpu" else None,
    )
    if divergence_threshold is None:
        start_loss = _loss_at(problem.function, tuple(start.tolist()), start.dtype.str)
        divergence_threshold = DIVERGENCE_FACTOR * (abs(start_loss) + 1.0)
    return SweepPlan(problem, steps, start, axes, grid_map, float(divergence_threshold))


def sweep(
    make_optimizer: MakeOptimizer | str,
    grid: Mapping[str, Any],
    problem: Problem | str | Function2D,
    start: Any = None,
    steps: int = 30,
    devices: Sequence[jax.Device] | None = None,
    *,
    chunk_size: int | None = None,
    divergence_threshold: float | None = None,
    dtype: Any = None,
    keep_trajectories: bool = False,
) -> SweepResult:
    """Run ``make_optimizer(**point)`` from ``start`` for every point of ``grid``.

    ``grid`` maps hyperparameter names to 1-D arrays; the points are their full
    product (one axis: e.g. learning rates; two: e.g. learning rate x b1). All
    points run in one compiled, vmapped program; the optimizer is built inside
    it from the traced values, so a new grid of the same size reuses the
    compiled program. Runs that blow up are reported in ``diverged``, not
    raised.

    Args:
      make_optimizer: a function of keyword hyperparameters returning a
        ``GradientTransformation`` (e.g. ``jaxopt_lab.adam`` or
        ``lambda learning_rate: adam(learning_rate, eps=1e-8)``), or a name in
        ``OPTIMIZERS``. The compiled program is cached per function object.
      grid: ``{name: values}``; names must be hyperparameters of
        ``make_optimizer`` (:func:`~jaxopt_lab.grid.hyperparameter_names`), values are
        validated by building the optimizer with each axis's extremes.
      problem: a :class:`Problem`, a name in ``PROBLEMS``, or a function ``f(xy)``.
      start: ``(x, y)``; default the problem's.
      steps: updates per run.
      devices: the devices to shard the grid over; default all devices
        (``jax.devices()``: every GPU of the host, or every device of every
        host after ``jax.distributed.initialize()``). One device: no sharding.
      chunk_size: the most points run at once (rounded up to a multiple of
        the device count); default :func:`~jaxopt_lab.grid.default_chunk_size`.
      divergence_threshold: a final loss above this counts as diverged;
        default ``DIVERGENCE_FACTOR * (|f(start)| + 1)``.
      dtype: of positions and hyperparameters; default as in :func:`trajectory`.
      keep_trajectories: also return every position of every run
        (``SweepResult.trajectories``, ``(steps + 1) * 2`` numbers a point). A
        program of its own, so the default sweep runs exactly as without it.

    Returns:
      A :class:`SweepResult` of NumPy arrays shaped like the grid, the same on
      every host.
    """
    plan = plan_sweep(make_optimizer, grid, problem, start, steps, devices, chunk_size,
                 divergence_threshold, dtype, keep_trajectories)  # fmt: skip
    losses, positions, *every = plan.grid_map.collect(plan.start)
    shape = plan.grid_map.shape
    return plan.result(
        axes=plan.axes,
        final_loss=losses.reshape(shape),
        final_position=positions.reshape(shape + (2,)),
        diverged=plan.diverged(losses, positions).reshape(shape),
        trajectories=every[0].reshape(shape + (plan.steps + 1, 2)) if every else None,
    )
