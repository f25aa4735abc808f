"""One sharded, chunked map over the points of a hyperparameter grid; both labs use it.

A *grid* is ``{name: 1-D values}``; its points are the full product of the
axes, in C order (the last axis varies fastest). :class:`GridMap` runs a
function of one point, ``point_function(point, *replicated) -> outputs``
(``point`` a dict of scalars, ``outputs`` a pytree of arrays), for every
point of the grid:

* **vmap**: the points of a chunk run in one compiled, vmapped program; with
  ``block`` set (the 2-D lab on a CPU) they run ``block`` at a time inside it
  (``lax.map`` with ``batch_size``), so that a block's state stays in cache;
* **devices**: the points are padded to a multiple of the device count and
  sharded over a one-axis ``jax.sharding.Mesh`` (axis ``"grid"``) with
  ``shard_map``; the ``replicated`` arguments (a start, a data set) go whole to
  every device, and no communication is needed;
* **chunks**: grids larger than ``chunk_size`` points run chunk by chunk
  through the same compiled program (the last chunk padded with copies of the
  final point), each chunk copied back to the host while the next one runs,
  so that at most two chunks' outputs are on the devices at a time;
* **hosts**: after ``jax.distributed.initialize()`` every process makes the same
  call, the mesh spans every host's devices, each host feeds and computes its
  own shards, and every host gets every chunk's outputs (all-gathered).

:meth:`GridMap.chunks` yields the outputs chunk by chunk (for streaming to
disk); :meth:`GridMap.collect` concatenates them.

Which hyperparameters a grid may name is declared once, beside each
optimizer (``@hyperparameters``), and read by :func:`hyperparameter_names`.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxopt_lab.optimizers import OPTIMIZERS

PointFunction = Callable[..., Any]

MAX_CHUNK_POINTS_PER_DEVICE = 1 << 24
"""No chunk holds more than this many points per device, whatever the memory."""


# --------------------------------------------------------------------------- what a grid may name


def as_make_optimizer(make_optimizer: Callable | str) -> Callable:
    """A name in ``OPTIMIZERS`` or a function of hyperparameters -> that function."""
    if isinstance(make_optimizer, str):
        if make_optimizer not in OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer {make_optimizer!r}; valid optimizers: {', '.join(OPTIMIZERS)}"
            )
        return OPTIMIZERS[make_optimizer]
    if not callable(make_optimizer):
        raise TypeError(
            "make_optimizer must be a function of hyperparameters returning a "
            f"GradientTransformation, or a name in OPTIMIZERS; got {make_optimizer!r}"
        )
    return make_optimizer


def hyperparameter_names(make_optimizer: Callable | str) -> tuple[str, ...]:
    """The numeric hyperparameters of ``make_optimizer`` that a sweep may vary.

    A lab optimizer declares them beside its definition (``@hyperparameters``,
    read here as its ``hyperparameters`` attribute), and so may any function
    (:func:`jaxopt_lab.grid.with_settings` does). For any other function of keyword arguments,
    every argument it accepts by name; for one whose signature cannot be read
    (or that takes ``**kwargs``), an empty tuple, meaning "not checked".
    """
    return _hyperparameter_names(as_make_optimizer(make_optimizer))


@functools.lru_cache(maxsize=256)
def _hyperparameter_names(make_optimizer: Callable) -> tuple[str, ...]:
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


@functools.lru_cache(maxsize=256)
def _with_settings(make_optimizer: Callable, settings: tuple) -> Callable:
    def make(**point):
        return make_optimizer(**dict(settings), **point)

    fixed = {name for name, _ in settings}
    make.hyperparameters = tuple(n for n in hyperparameter_names(make_optimizer) if n not in fixed)
    make.__name__ = getattr(make_optimizer, "__name__", "optimizer")
    return make


def with_settings(make_optimizer: Callable | str, settings: Mapping[str, float]) -> Callable:
    """``make_optimizer`` with some hyperparameters fixed; the others stay sweepable.

    The result is cached per ``(make_optimizer, settings)``, so two sweeps with
    the same fixed settings share one compiled program.
    """
    make_optimizer = as_make_optimizer(make_optimizer)
    if not settings:
        return make_optimizer
    return _with_settings(make_optimizer, tuple(sorted(settings.items())))


def grid_axes(
    make_optimizer: Callable, grid: Mapping[str, Any], dtype: Any, *, extra: Sequence[str] = ()
) -> dict[str, np.ndarray]:
    """Check ``grid`` against ``make_optimizer``'s hyperparameters; 1-D arrays in ``dtype``.

    ``extra`` names axes that are not hyperparameters (the MNIST lab's ``seed``),
    left out of the check. The optimizer is built once with each axis's
    smallest and largest values, so that its own checks (intervals) see the
    whole grid: under ``vmap`` the values are tracers and cannot be checked.
    """
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError(
            "grid must be a non-empty mapping from hyperparameter names to 1-D arrays, "
            f"got {grid!r}"
        )
    valid = hyperparameter_names(make_optimizer)
    axes = {}
    for name, values in grid.items():
        if name in extra:
            continue
        if valid and name not in valid:
            raise ValueError(
                f"unknown hyperparameter {name!r} in grid; valid hyperparameters of "
                f"{getattr(make_optimizer, '__name__', 'the optimizer')}: {', '.join(valid)}"
            )
        array = np.asarray(values)
        if array.dtype.kind not in "fiu":  # no float64 copy of a float32 axis of 10^8 points
            try:
                array = np.asarray(values, dtype=np.float64)
            except (TypeError, ValueError):
                array = np.array([np.nan])
        if array.ndim == 0:
            array = array.reshape(1)
        if array.ndim != 1 or array.size == 0 or not np.all(np.isfinite(array)):
            raise ValueError(
                f"grid[{name!r}] must be a non-empty 1-D array of finite numbers, got {values!r}"
            )
        axes[name] = array.astype(np.dtype(dtype), copy=False)
    if axes:
        lows = tuple((name, values.min()) for name, values in axes.items())
        highs = tuple((name, values.max()) for name, values in axes.items())
        _check_settings(make_optimizer, lows)
        _check_settings(make_optimizer, highs)
    return axes


@functools.lru_cache(maxsize=256)
def _check_settings(make_optimizer: Callable, settings: tuple) -> None:
    """Build the optimizer with ``settings`` (``(name, value)`` pairs); it raises if one is
    invalid. Cached: a sweep repeated on the same grid checks it once."""
    make_optimizer(**dict(settings))


# --------------------------------------------------------------------------- memory and hosts


def default_chunk_size(bytes_per_point: int, devices: Sequence[jax.Device] | None = None) -> int:
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
    per_device = min(per_device, MAX_CHUNK_POINTS_PER_DEVICE)
    return per_device * len(devices)


def to_host(array: jax.Array) -> np.ndarray:
    """The whole of ``array`` on this host (all-gathered across hosts when sharded)."""
    if getattr(array, "is_fully_addressable", True):
        return np.asarray(array)
    if array.is_fully_replicated:
        return np.asarray(array.addressable_data(0))
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(array, tiled=True))


def _put(host_array: np.ndarray, sharding: Any) -> jax.Array:
    """A global array from a host array that every process holds in full."""
    return jax.make_array_from_callback(host_array.shape, sharding, lambda index: host_array[index])


# --------------------------------------------------------------------------- the map


def _batched(point_function: PointFunction, block: int | None) -> Callable:
    def run(points, *replicated):
        def one(point):
            return point_function(point, *replicated)

        count = len(next(iter(points.values())))
        if block == 1:  # one point at a time, not a vmap of one (see GridMap's block)
            return jax.lax.map(one, points)
        if block is None or count <= block:
            return jax.vmap(one)(points)
        return jax.lax.map(one, points, batch_size=block)

    return run


@functools.lru_cache(maxsize=64)
def _program(point_function: PointFunction, block: int | None, mesh: Mesh | None, count: int):
    """The compiled map: one per point function, block and mesh (cached)."""
    run = _batched(point_function, block)
    if mesh is None:
        return jax.jit(run)
    return jax.jit(
        jax.shard_map(
            run,
            mesh=mesh,
            in_specs=(PartitionSpec("grid"),) + (PartitionSpec(),) * count,
            out_specs=PartitionSpec("grid"),
            # Every point is independent: no collectives, so skip the replication
            # typing (optimizer states start unvarying and become per-device).
            check_vma=False,
        )
    )


class GridMap:
    """``point_function`` over every point of ``axes``, sharded and chunked.

    Args:
      point_function: ``f(point, *replicated) -> pytree of arrays``, ``point`` a
        dict of scalars keyed like ``axes``. Compiled programs are cached per
        function object: pass the same object to reuse them.
      axes: ``{name: 1-D NumPy array}``; the points are their full product.
      devices: to shard over; default every device JAX sees (of every host).
      chunk_size: the most points run at once (rounded up to a multiple of the
        device count); default :func:`default_chunk_size` of ``bytes_per_point``.
      bytes_per_point: a generous estimate of one point's working memory.
      block: on a CPU, points vmapped at once inside the program (``None``: all;
        ``1``: one point after another, with no ``vmap`` over points, for a point
        function that ``vmap``-s inside, as a tuning study does).
      precompile: compile ahead of the first chunk and time it (``compile_seconds``);
        otherwise jit's own cache compiles on first use, and reuses across maps.

    Attributes: ``shape`` (the grid's), ``point_count``, ``device_count``,
    ``chunk_size`` (the one used), ``chunk_count``, ``compile_seconds``.
    """

    def __init__(
        self,
        point_function: PointFunction,
        axes: Mapping[str, np.ndarray],
        *,
        devices: Sequence[jax.Device] | None = None,
        chunk_size: int | None = None,
        bytes_per_point: int = 1024,
        block: int | None = None,
        precompile: bool = False,
    ):
        self.point_function = point_function
        self.axes = {name: np.asarray(values) for name, values in axes.items()}
        self.devices = list(jax.devices() if devices is None else devices)
        if not self.devices:
            raise ValueError("devices must name at least one device")
        self.device_count = len(self.devices)
        self.shape = tuple(len(values) for values in self.axes.values())
        self.point_count = math.prod(self.shape)
        if chunk_size is None:
            chunk_size = default_chunk_size(bytes_per_point, self.devices)
        elif isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        chunk = min(chunk_size, self.point_count)
        self.chunk_size = -(-chunk // self.device_count) * self.device_count
        self.chunk_count = -(-self.point_count // self.chunk_size)
        self.block = block
        self.precompile = precompile
        self.compile_seconds = 0.0

    def points(self, first: int, count: int) -> dict[str, np.ndarray]:
        """The hyperparameters of points ``first .. first + count - 1`` (C order), padded
        with copies of the grid's last point past its end."""
        if len(self.axes) == 1 and first == 0 and count == self.point_count:
            return dict(self.axes)
        flat = np.minimum(np.arange(first, first + count), self.point_count - 1)
        indices = np.unravel_index(flat, self.shape)
        return {
            name: values[index]
            for (name, values), index in zip(self.axes.items(), indices, strict=True)
        }

    def chunks(self, *replicated: Any) -> Iterator[tuple[int, Any]]:
        """Yield ``(first, outputs)`` per chunk, in order; ``outputs`` are host NumPy
        arrays for points ``first .. first + n - 1`` (padding dropped)."""
        if self.device_count > 1:
            mesh = Mesh(np.asarray(self.devices), ("grid",))
            point_sharding = NamedSharding(mesh, PartitionSpec("grid"))
            replicated_sharding = NamedSharding(mesh, PartitionSpec())
            replicated = tuple(_put(np.asarray(r), replicated_sharding) for r in replicated)
            placement = contextlib.nullcontext()
        else:
            # One device: the compiled call's fast path moves the NumPy inputs there.
            mesh, point_sharding = None, None
            placement = jax.default_device(self.devices[0])
        program = _program(self.point_function, self.block, mesh, len(replicated))

        def fetch(first, output):
            count = min(self.chunk_size, self.point_count - first)
            return first, jax.tree.map(lambda leaf: to_host(leaf)[:count], output)

        pending = None
        with placement:
            for first in range(0, self.point_count, self.chunk_size):
                points = self.points(first, self.chunk_size)
                if point_sharding is not None:
                    points = {name: _put(v, point_sharding) for name, v in points.items()}
                if self.precompile and first == 0:
                    begin = time.perf_counter()
                    program = program.lower(points, *replicated).compile()
                    self.compile_seconds = time.perf_counter() - begin
                output = program(points, *replicated)
                if pending is not None:
                    yield fetch(*pending)
                pending = (first, output)
            yield fetch(*pending)

    def collect(self, *replicated: Any) -> Any:
        """Every point's outputs, concatenated along the first axis (``point_count``)."""
        parts = [output for _, output in self.chunks(*replicated)]
        return jax.tree.map(lambda *leaves: np.concatenate(leaves), *parts)


# -------------------------------------------------------------- an axis written on the command line

GRID_FORMS = "NAME=LOW:HIGH:COUNT[:log|:lin], NAME=V1,V2,... or NAME=V"

MAX_ECHO = 200
"""An error message echoes at most this many characters of the text it refuses."""


def shown(text: str) -> str:
    """``repr(text)``, cut to :data:`MAX_ECHO` characters with its length said."""
    if len(text) <= MAX_ECHO:
        return repr(text)
    return f"{text[:MAX_ECHO]!r}... ({len(text):,} characters)"


def parse_number(text: str, what: str) -> float:
    """``float(text)``, refused with a one-line ``ValueError`` naming ``what`` unless finite."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what}: {shown(text)} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{what}: {shown(text)} is not a finite number")
    return value


MAX_AXIS_POINTS = 10**9
MAX_NAME = 100
"""A swept hyperparameter's name is at most this long (the longest is 16 characters)."""
BLOCKWISE_ABOVE = 1 << 22
"""Ranges of more points are computed block by block straight into float32 (4 bytes a point,
where ``numpy.geomspace`` would hold several float64 temporaries of the whole range)."""


def _blockwise_range(low: float, high: float, count: int, log: bool) -> np.ndarray:
    values = np.empty(count, np.float32)
    first, last = (math.log10(low), math.log10(high)) if log else (low, high)
    step = (last - first) / (count - 1)
    block = 1 << 20
    for begin in range(0, count, block):
        index = np.arange(begin, min(begin + block, count), dtype=np.float64)
        chunk = first + step * index
        values[begin : begin + len(index)] = 10.0**chunk if log else chunk
    values[0], values[-1] = low, high  # exact ends, as numpy sets them
    return values


def parse_grid_axis(text: str) -> tuple[str, np.ndarray]:
    """``"learning_rate=1e-4:10:1000:log"`` -> ``("learning_rate", values)``.

    Forms: ``NAME=LOW:HIGH:COUNT[:log|:lin]`` (default lin), ``NAME=V1,V2,...``
    and ``NAME=V``. The name is checked against an optimizer by the caller. An error
    echoes at most :data:`MAX_ECHO` characters of the text.
    """
    name, equals, body = text.partition("=")
    if not equals or not name.isidentifier() or not body:
        raise ValueError(f"malformed --param {shown(text)}; expected {GRID_FORMS}")
    if len(name) > MAX_NAME:
        raise ValueError(f"--param {shown(text)}: NAME is longer than {MAX_NAME} characters")
    what = f"--param {shown(text)}"
    if ":" in body:
        parts = body.split(":")
        scale = parts[3] if len(parts) == 4 else "lin"
        if len(parts) not in (3, 4) or scale not in ("log", "lin"):
            raise ValueError(f"malformed {what}; expected {GRID_FORMS}")
        low = parse_number(parts[0], what)
        high = parse_number(parts[1], what)
        try:
            count = int(parts[2])
        except ValueError:
            raise ValueError(f"malformed {what}; expected {GRID_FORMS}") from None
        if not 1 <= count <= MAX_AXIS_POINTS:
            raise ValueError(f"{what}: COUNT must be in [1, {MAX_AXIS_POINTS:.0e}]")
        if scale == "log" and (low <= 0 or high <= 0):
            raise ValueError(f"{what}: a log range needs LOW, HIGH > 0")
        if count > BLOCKWISE_ABOVE:
            return name, _blockwise_range(low, high, count, scale == "log")
        if scale == "log":
            return name, np.geomspace(low, high, count)
        return name, np.linspace(low, high, count)
    return name, np.array([parse_number(part, what) for part in body.split(",")])
