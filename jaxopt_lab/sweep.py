"""Compiled trajectories and hyperparameter sweeps on the 2-D problems.

:func:`trajectory` runs one optimizer from one start as a single jit-compiled
``lax.scan`` and returns every position. :func:`sweep` runs the same program
for every point of a hyperparameter grid at once: the optimizer is built
*inside* the vmapped function from the swept values (``make_optimizer(**point)``),
so one compiled program covers the whole grid and new grid values of the same
size do not recompile.

Devices, hosts and memory
-------------------------
The sweep axis is flattened, padded to a multiple of the device count and
sharded over a one-axis ``jax.sharding.Mesh`` (axis name ``"sweep"``); each
device runs its slice of the grid and no communication is needed. With
``devices=None`` every device JAX sees is used, so the same call

* runs on one CPU or GPU unchanged;
* uses all GPUs of a multi-GPU host (``jax.devices()`` lists them all);
* runs on several hosts when every host starts with
  ``jax.distributed.initialize()`` (coordinator address, process count and id
  from the cluster, or given explicitly) and then makes the *same*
  ``sweep(...)`` call: ``jax.devices()`` is then the global device list, the
  mesh spans all hosts, each host feeds and computes only its own shards, and
  the results are all-gathered so that every host returns the full
  :class:`SweepResult`.

Grids larger than ``chunk_size`` points are run chunk by chunk with a Python
loop over one compiled program (the last chunk is padded to the same shape),
each chunk's results copied to the host while the next one runs. On a CPU
device the points of a chunk also run in cache-sized blocks inside the
program (:data:`CPU_BLOCK_POINTS`).
The default chunk size is sized from device memory (a quarter of an
accelerator's memory, or a sixteenth of host RAM on CPU, shared by the local
devices).

On the CPU, ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` (set before
JAX is imported) splits the host into N devices, which is how the tests check
that sharded and unsharded sweeps agree, and which lets a sweep use several
cores.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxopt_lab.optimizers import OPTIMIZERS, apply_updates
from jaxopt_lab.problems import Function2D, Problem, as_problem

MakeOptimizer = Callable[..., optax.GradientTransformation]

DIVERGENCE_FACTOR = 1e3
"""By default a run has diverged when its final loss exceeds
``DIVERGENCE_FACTOR * (|f(start)| + 1)`` (or is not finite)."""

# --------------------------------------------------------------------------- arguments


def _default_float() -> jnp.dtype:
    """float64 inside ``jax.enable_x64``, float32 otherwise."""
    return jnp.result_type(float)


def _start_array(problem: Problem, start: Any, dtype: Any) -> np.ndarray:
    """The start as a host array of shape ``(2,)`` in the run's dtype."""
    if start is None:
        if problem.start is None:
            raise ValueError(
                f"start is required: problem {problem.name!r} has no default start"
            )
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
    return int(steps)


def _as_make_optimizer(make_optimizer: MakeOptimizer | str) -> MakeOptimizer:
    if isinstance(make_optimizer, str):
        if make_optimizer not in OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer {make_optimizer!r}; valid optimizers: "
                f"{', '.join(OPTIMIZERS)}"
            )
        return OPTIMIZERS[make_optimizer]
    if not callable(make_optimizer):
        raise TypeError(
            "make_optimizer must be a function of hyperparameters returning a "
            f"GradientTransformation, or a name in OPTIMIZERS; got {make_optimizer!r}"
        )
    return make_optimizer


def hyperparameter_names(make_optimizer: MakeOptimizer | str) -> tuple[str, ...]:
    """The numeric hyperparameters of ``make_optimizer`` that a sweep can vary.

    A lab optimizer declares them beside its definition (``@hyperparameters``,
    read here as its ``hyperparameters`` attribute). For any other function of
    keyword arguments, every argument it accepts by name; for one whose
    signature cannot be read (or that takes ``**kwargs``), an empty tuple,
    meaning "not checked".
    """
    return _hyperparameter_names(_as_make_optimizer(make_optimizer))


@functools.lru_cache(maxsize=256)
def _hyperparameter_names(make_optimizer: MakeOptimizer) -> tuple[str, ...]:
    declared = getattr(make_optimizer, "hyperparameters", None)
    if declared is not None:
        return tuple(declared)
    try:
        parameters = inspect.signature(make_optimizer).parameters.values()
    except (TypeError, ValueError):
        return ()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return ()
    by_name = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return tuple(p.name for p in parameters if p.kind in by_name)


def _grid_axes(
    make_optimizer: MakeOptimizer, grid: Mapping[str, Any], dtype: Any
) -> dict[str, np.ndarray]:
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError(
            "grid must be a non-empty mapping from hyperparameter names to 1-D arrays, "
            f"got {grid!r}"
        )
    valid = hyperparameter_names(make_optimizer)
    axes = {}
    for name, values in grid.items():
        if valid and name not in valid:
            raise ValueError(
                f"unknown hyperparameter {name!r} in grid; valid hyperparameters of "
                f"{getattr(make_optimizer, '__name__', 'the optimizer')}: {', '.join(valid)}"
            )
        array = np.asarray(values, dtype=np.float64)
        if array.ndim == 0:
            array = array.reshape(1)
        if array.ndim != 1 or array.size == 0 or not np.all(np.isfinite(array)):
            raise ValueError(
                f"grid[{name!r}] must be a non-empty 1-D array of finite numbers, got {values!r}"
            )
        axes[name] = array.astype(np.dtype(dtype))
    # Build once with concrete values: the optimizer validates them here (under
    # vmap they are tracers and cannot be checked). Its checks are intervals,
    # so each axis's smallest and largest values stand for the whole axis.
    for extreme in (np.min, np.max):
        make_optimizer(**{name: extreme(v) for name, v in axes.items()})
    return axes


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

    (position, _), positions = jax.lax.scan(
        step, (start, optimizer.init(start)), length=steps
    )
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


# --------------------------------------------------------------------------- sweeps


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
        if np.all(self.diverged):
            raise ValueError("every run of the sweep diverged; there is no best setting")
        losses = np.where(self.diverged, np.inf, self.final_loss)
        flat_index = int(np.argmin(losses))
        return self.point(flat_index), float(losses.reshape(-1)[flat_index])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (non-finite losses become ``None``)."""

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


CPU_BLOCK_POINTS = 4096
"""On a CPU device the points of a chunk run in blocks of this many, one block
after another inside the compiled program (``lax.map`` with ``batch_size``), so
that each block's state stays in cache through all its steps. Accelerators run
the whole chunk at once."""


def _sweep_points(make_optimizer, function, steps, block, points, start):
    """Final ``(loss, position)`` for every point, and ``f(start)``.

    ``points`` maps hyperparameter names to ``(n,)`` arrays; ``block`` is the
    number of points vmapped at once (``None``: all of them).
    """

    def one(point):
        position, _ = _run(make_optimizer(**point), function, start, steps, keep_positions=False)
        return function(position), position

    count = len(next(iter(points.values())))
    if block is None or count <= block:
        losses, positions = jax.vmap(one)(points)
    else:
        losses, positions = jax.lax.map(one, points, batch_size=block)
    return losses, positions, function(start)


_compiled_sweep = jax.jit(_sweep_points, static_argnums=(0, 1, 2, 3))


@functools.lru_cache(maxsize=64)
def _sharded_sweep(make_optimizer, function, steps, block, mesh):
    """The sweep program with each device running its own slice of the points."""
    return jax.jit(
        jax.shard_map(
            functools.partial(_sweep_points, make_optimizer, function, steps, block),
            mesh=mesh,
            in_specs=(PartitionSpec("sweep"), PartitionSpec()),
            out_specs=(PartitionSpec("sweep"), PartitionSpec("sweep"), PartitionSpec()),
            # Every point is independent and f(start) is computed alike on
            # every device: no collectives, so skip the replication typing.
            check_vma=False,
        )
    )


def default_chunk_size(
    bytes_per_point: int, devices: Sequence[jax.Device] | None = None
) -> int:
    """Points per chunk that fit comfortably in memory, summed over ``devices``.

    Each device gets a quarter of its memory (``memory_stats()["bytes_limit"]``)
    or, where JAX does not report one (the CPU), a sixteenth of host RAM shared
    by the local devices; the result is a multiple of the device count.
    """
    devices = list(devices or jax.devices())
    budgets = []
    for device in devices:
        stats = device.memory_stats() if hasattr(device, "memory_stats") else None
        if stats and stats.get("bytes_limit"):
            budgets.append(stats["bytes_limit"] // 4)
        else:
            try:
                ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
            except (AttributeError, ValueError, OSError):
                ram = 8 << 30
            budgets.append(ram // 16 // max(1, jax.local_device_count()))
    per_device = max(1, min(budgets) // max(1, bytes_per_point))
    per_device = min(per_device, 1 << 24)
    return per_device * len(devices)


@functools.lru_cache(maxsize=256)
def _bytes_per_point(make_optimizer, names: tuple[str, ...], dtype: np.dtype) -> int:
    """A generous estimate of the working memory of one run: 8x its carried state."""
    start = jax.ShapeDtypeStruct((2,), dtype)
    point = {name: jax.ShapeDtypeStruct((), dtype) for name in names}
    state = jax.eval_shape(lambda point, start: make_optimizer(**point).init(start), point, start)
    carried = sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree.leaves(state))
    carried += (2 + len(names)) * dtype.itemsize
    return 8 * carried


def _to_host(array: jax.Array) -> np.ndarray:
    """The whole of ``array`` on this host (all-gathered across hosts when sharded)."""
    if getattr(array, "is_fully_addressable", True):
        return np.asarray(array)
    if array.is_fully_replicated:
        return np.asarray(array.addressable_data(0))
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(array, tiled=True))


def _put(host_array: np.ndarray, sharding) -> jax.Array:
    """A global array from a host array that every process holds in full."""
    return jax.make_array_from_callback(host_array.shape, sharding, lambda index: host_array[index])


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
      grid: ``{name: values}``; names must be numeric hyperparameters of
        ``make_optimizer`` (checked when its signature says which), values are
        validated by building the optimizer once with them.
      problem: a :class:`Problem`, a name in ``PROBLEMS``, or a function ``f(xy)``.
      start: ``(x, y)``; default the problem's.
      steps: updates per run.
      devices: the devices to shard the sweep axis over; default all devices
        (``jax.devices()``: every GPU of the host, or every device of every
        host after ``jax.distributed.initialize()``). One device: no sharding.
      chunk_size: the most points run at once (rounded up to a multiple of
        the device count); default :func:`default_chunk_size`.
      divergence_threshold: a final loss above this counts as diverged;
        default ``DIVERGENCE_FACTOR * (|f(start)| + 1)``.
      dtype: of positions and hyperparameters; default as in :func:`trajectory`.

    Returns:
      A :class:`SweepResult` of NumPy arrays shaped like the grid, the same on
      every host.
    """
    problem = as_problem(problem)
    make_optimizer = _as_make_optimizer(make_optimizer)
    steps = _check_steps(steps)
    start = _start_array(problem, start, dtype)
    axes = _grid_axes(make_optimizer, grid, start.dtype)
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("devices must name at least one device")
    device_count = len(devices)

    grid_shape = tuple(len(values) for values in axes.values())
    point_count = math.prod(grid_shape)

    if chunk_size is None:
        chunk_size = default_chunk_size(
            _bytes_per_point(make_optimizer, tuple(axes), np.dtype(start.dtype)), devices
        )
    elif isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    chunk = min(chunk_size, point_count)
    chunk = -(-chunk // device_count) * device_count
    chunk_count = -(-point_count // chunk)

    block = CPU_BLOCK_POINTS if devices[0].platform == "cpu" else None
    if device_count > 1:
        mesh = Mesh(np.asarray(devices), ("sweep",))
        point_sharding = NamedSharding(mesh, PartitionSpec("sweep"))
        start_on_devices = _put(start, NamedSharding(mesh, PartitionSpec()))
        placement = contextlib.nullcontext()
        program = _sharded_sweep(make_optimizer, problem.function, steps, block, mesh)
    else:
        # One device: the compiled call's fast path moves the NumPy inputs there.
        point_sharding, start_on_devices = None, start
        placement = jax.default_device(devices[0])
        program = functools.partial(
            _compiled_sweep, make_optimizer, problem.function, steps, block
        )

    # Chunks are dispatched one ahead of the copy back to the host, so at most
    # two chunks' results are on the devices at a time.
    host_losses, host_positions, pending, start_loss = [], [], None, None

    def collect(output):
        host_losses.append(_to_host(output[0]))
        host_positions.append(_to_host(output[1]))
        return float(_to_host(output[2]))

    with placement:
        for first in range(0, point_count, chunk):
            # Every chunk has the same shape; the last is padded with copies of
            # its final point, and the padding is dropped below.
            if len(axes) == 1 and first == 0 and chunk == point_count:
                chunk_points = dict(axes)
            else:
                flat = np.minimum(np.arange(first, first + chunk), point_count - 1)
                indices = np.unravel_index(flat, grid_shape)
                chunk_points = {
                    name: values[index]
                    for (name, values), index in zip(axes.items(), indices, strict=True)
                }
            if point_sharding is not None:
                chunk_points = {
                    name: _put(values, point_sharding) for name, values in chunk_points.items()
                }
            output = program(chunk_points, start_on_devices)
            if pending is not None:
                start_loss = collect(pending)
            pending = output
        start_loss = collect(pending)
    losses = np.concatenate(host_losses)[:point_count]
    positions = np.concatenate(host_positions)[:point_count]

    if divergence_threshold is None:
        divergence_threshold = DIVERGENCE_FACTOR * (abs(start_loss) + 1.0)
    with np.errstate(invalid="ignore"):
        diverged = (
            ~np.isfinite(losses)
            | ~np.isfinite(positions[:, 0])
            | ~np.isfinite(positions[:, 1])
            | (losses > divergence_threshold)
        )
    return SweepResult(
        axes=axes,
        final_loss=losses.reshape(grid_shape),
        final_position=positions.reshape(grid_shape + (2,)),
        diverged=diverged.reshape(grid_shape),
        divergence_threshold=float(divergence_threshold),
        problem=problem.name,
        steps=steps,
        start=(float(start[0]), float(start[1])),
        device_count=device_count,
        chunk_count=chunk_count,
    )

