"""The tutorial's MNIST experiment: optimizers trained side by side, and sweeps.

The network, its loss and one training step are :mod:`jaxopt_lab.mlp`'s
(re-exported here).

:func:`compare` is the tutorial's ``optimizer_compare_mnist.py``: one network per
optimizer, all starting from the same weights, every one seeing the same
batches (``batch_size`` indices drawn with replacement, as the tutorial's
``np.random.choice(train_size, batch_size)``), the train loss recorded after
each update on that iteration's batch (as the tutorial records it). All optimizers
step inside one ``lax.scan`` body: the whole comparison is one compiled
program, run in chunks of ``chunk_size`` iterations so that a caller can show
progress and save checkpoints. The randomness comes from ``seed`` only, and
each iteration's batch from ``fold_in(batch_key, iteration)``: the same seed
gives the same numbers bit for bit, and a run resumed from a saved
:class:`CompareCarry` continues exactly where it stopped.

:func:`sweep` trains a network for every point of a hyperparameter grid x seeds
at once (``vmap``), sharded over devices and hosts by :class:`jaxopt_lab.grid.GridMap`.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from jaxopt_lab.data import MnistData
from jaxopt_lab.grid import GridMap, as_make_optimizer, grid_axes
from jaxopt_lab.mlp import (  # noqa: F401 - the network is part of this lab's API
    DEFAULT_SIZES,
    MAX_SEED,
    Params,
    accuracy,
    batch_indices,
    check_data,
    check_seed,
    check_sizes,
    init_mlp,
    loss,
    mlp_logits,
    seed_keys,
    train_step,
)

TUTORIAL_OPTIMIZERS = ("sgd", "momentum", "adagrad", "adam")
"""The tutorial's comparison, each at the lab's defaults (the tutorial's): SGD 0.01,
Momentum 0.01/0.9, AdaGrad 0.01, Adam 0.001."""

# --------------------------------------------------------------------------- compare


class CompareCarry(NamedTuple):
    """Everything :func:`compare` needs to continue a run: save it, load it, resume.

    ``iteration`` (int32 scalar) iterations are done; ``params`` and ``states``
    hold one parameter tree and one optimizer state per optimizer, in the order
    of the ``optimizers`` dict; ``losses[optimizer, iteration]`` (the network's
    dtype, ``(n_optimizers, iterations)``) is filled up to ``iteration``, 0 after.
    """

    iteration: np.ndarray
    params: tuple
    states: tuple
    losses: np.ndarray


class CompareResult(NamedTuple):
    """What :func:`compare` returns.

    ``losses[optimizer, iteration]``: the train loss of each optimizer (rows in
    the order of ``names``) after each iteration's update, on that iteration's
    batch. ``test_accuracy[optimizer]``: final accuracy on the test set (NaN for
    a diverged optimizer). ``diverged``: for each optimizer whose loss became
    NaN or infinite, the first such iteration. ``carry``: the final state, for
    resuming. ``compile_seconds`` / ``run_seconds``: time spent compiling and
    running (compilation excluded).
    """

    names: tuple[str, ...]
    losses: np.ndarray
    test_accuracy: np.ndarray
    diverged: dict[str, int]
    carry: CompareCarry
    compile_seconds: float
    run_seconds: float

    def loss_of(self, name: str) -> np.ndarray:
        """The loss curve of the optimizer called ``name``."""
        return self.losses[self.names.index(name)]


def first_nonfinite(losses: np.ndarray, names: Sequence[str]) -> dict[str, int]:
    """``{name: first iteration whose loss is NaN or infinite}`` for rows that have one."""
    diverged = {}
    for name, row in zip(names, np.asarray(losses), strict=True):
        bad = np.flatnonzero(~np.isfinite(row))
        if bad.size:
            diverged[name] = int(bad[0])
    return diverged


def _check_positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if value > np.iinfo(np.int32).max:  # iterations are counted in int32
        raise ValueError(f"{name} must be at most 2**31 - 1, got {value!r}")
    return int(value)


def _check_optimizers(optimizers: Any) -> tuple[tuple[str, ...], tuple]:
    if not isinstance(optimizers, dict) or not optimizers:
        raise ValueError(
            "optimizers must be a non-empty dict of name -> GradientTransformation, "
            f"got {optimizers!r}"
        )
    for name, optimizer in optimizers.items():
        if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
            raise TypeError(
                f"optimizers[{name!r}] is not a GradientTransformation (no init/update): "
                f"{optimizer!r}"
            )
    return tuple(optimizers), tuple(optimizers.values())


def initial_carry(
    optimizers: dict[str, optax.GradientTransformation],
    iterations: int = 2000,
    seed: int = 0,
    *,
    sizes: Sequence[int] = DEFAULT_SIZES,
    dtype: Any = jnp.float32,
) -> CompareCarry:
    """The carry at iteration 0: the same He-initialised weights for every optimizer.

    Also the ``like`` tree for loading a saved carry (same structure, shapes, dtypes).
    """
    _, transforms = _check_optimizers(optimizers)
    iterations = _check_positive("iterations", iterations)
    init_key, _ = seed_keys(seed)
    params = init_mlp(init_key, sizes, dtype)
    return CompareCarry(
        iteration=np.zeros((), np.int32),
        params=tuple(params for _ in transforms),
        states=tuple(optimizer.init(params) for optimizer in transforms),
        losses=np.zeros((len(transforms), iterations), dtype),
    )


def _chunk_runner(transforms: tuple, batch_size: int, length: int) -> Callable:
    """A jitted function running ``length`` iterations of every optimizer in one scan."""

    def run(params, states, start, batch_key, train_images, train_labels):
        def body(carry, iteration):
            params, states = carry
            indices = batch_indices(batch_key, iteration, train_images.shape[0], batch_size)
            images, labels = train_images[indices], train_labels[indices]
            stepped = [
                train_step(optimizer, p, s, images, labels)
                for optimizer, p, s in zip(transforms, params, states, strict=True)
            ]
            new_params = tuple(step[0] for step in stepped)
            new_states = tuple(step[1] for step in stepped)
            losses = jnp.stack([step[2] for step in stepped])
            return (new_params, new_states), losses

        iterations = start + jnp.arange(length, dtype=jnp.int32)
        (params, states), losses = lax.scan(body, (params, states), iterations)
        return params, states, losses.T

    return jax.jit(run)


def compare(
    optimizers: dict[str, optax.GradientTransformation],
    data: MnistData,
    iterations: int = 2000,
    batch_size: int = 128,
    seed: int = 0,
    *,
    sizes: Sequence[int] = DEFAULT_SIZES,
    dtype: Any = jnp.float32,
    chunk_size: int = 100,
    start: CompareCarry | None = None,
    on_chunk: Callable[[CompareCarry], None] | None = None,
) -> CompareResult:
    """Train one MLP per optimizer on the same batches from the same weights; return losses.

    Args:
      optimizers: name -> optimizer; the order is the order of the result's rows.
      data: MNIST (or any images/labels of that form) from :func:`jaxopt_lab.data.load_mnist`.
      iterations: total training iterations (the tutorial: 2000).
      batch_size: examples per iteration, drawn with replacement (the tutorial: 128).
      seed: the only source of randomness (initial weights and batches).
      sizes: layer sizes; ``sizes[0]`` must match the images' width.
      dtype: parameter and compute dtype.
      chunk_size: iterations per compiled call; chunks end at multiples of it,
        so a resumed run goes through exactly the same programs.
      start: a carry saved from an earlier run with the same arguments
        (:attr:`CompareResult.carry` or the argument of ``on_chunk``), to
        continue from; default :func:`initial_carry`.
      on_chunk: called with the carry after each chunk (progress, checkpoints).

    Returns:
      a :class:`CompareResult`. Optimizers whose loss became non-finite are
      listed in ``diverged``; the others' results are unaffected.
    """
    names, transforms = _check_optimizers(optimizers)
    iterations = _check_positive("iterations", iterations)
    batch_size = _check_positive("batch_size", batch_size)
    chunk_size = _check_positive("chunk_size", chunk_size)
    seed = check_seed(seed)
    sizes = check_sizes(sizes)
    # device_put, not jnp.asarray: the same copy, 40% faster for MNIST's 188 MB.
    train_images, train_labels, test_images, test_labels = jax.device_put(
        check_data(data, sizes, dtype)
    )
    if start is None:
        carry = initial_carry(optimizers, iterations, seed, sizes=sizes, dtype=dtype)
    else:
        carry = _check_carry(start, optimizers, iterations, seed, sizes, dtype)
    _, batch_key = seed_keys(seed)

    params, states = carry.params, carry.states
    losses = np.array(carry.losses, copy=True)
    done = int(carry.iteration)
    runners: dict[int, Any] = {}
    compile_seconds = run_seconds = 0.0
    while done < iterations:
        length = min(chunk_size - done % chunk_size, iterations - done)
        arguments = (params, states, jnp.int32(done), batch_key, train_images, train_labels)
        if length not in runners:
            begin = time.perf_counter()
            runners[length] = (
                _chunk_runner(transforms, batch_size, length).lower(*arguments).compile()
            )
            compile_seconds += time.perf_counter() - begin
        begin = time.perf_counter()
        params, states, chunk_losses = runners[length](*arguments)
        losses[:, done : done + length] = np.asarray(chunk_losses)
        run_seconds += time.perf_counter() - begin
        done += length
        carry = CompareCarry(np.asarray(done, np.int32), params, states, losses)
        if on_chunk is not None:
            on_chunk(carry)

    diverged = first_nonfinite(losses, names)
    evaluate = jax.jit(accuracy)
    test_accuracy = np.array(
        [
            np.nan if name in diverged else float(evaluate(p, test_images, test_labels))
            for name, p in zip(names, params, strict=True)
        ]
    )
    return CompareResult(
        names=names,
        losses=losses,
        test_accuracy=test_accuracy,
        diverged=diverged,
        carry=carry,
        compile_seconds=compile_seconds,
        run_seconds=run_seconds,
    )


def _check_carry(carry: Any, optimizers: dict, iterations: int, seed: int, sizes, dtype) -> Any:
    """``carry`` if it has exactly the structure, shapes and dtypes of this run's carry.

    A carry saved from other optimizers (another state structure), another
    network or another iteration count is refused, naming the first difference.
    """
    if not isinstance(carry, CompareCarry):
        try:
            carry = CompareCarry(*carry)
        except TypeError:
            raise ValueError(f"start must be a CompareCarry, got {type(carry).__name__}") from None
    n_optimizers = len(optimizers)
    losses_shape = np.shape(carry.losses)
    if losses_shape != (n_optimizers, iterations):
        raise ValueError(
            f"start.losses has shape {losses_shape}, expected {(n_optimizers, iterations)} "
            "(the same optimizers and iterations as the run it was saved from)"
        )
    expected = jax.eval_shape(
        lambda: initial_carry(optimizers, iterations, seed, sizes=sizes, dtype=dtype)
    )
    got_leaves, got_structure = jax.tree_util.tree_flatten_with_path(carry)
    want_leaves, want_structure = jax.tree_util.tree_flatten_with_path(expected)
    if got_structure != want_structure:
        raise ValueError(
            "start does not have the structure of this run's carry (saved from other "
            f"optimizers or another network?)\n  start: {got_structure}\n  "
            f"expected: {want_structure}"
        )
    for (path, got), (_, want) in zip(got_leaves, want_leaves, strict=True):
        got_dtype = np.dtype(getattr(got, "dtype", None) or np.result_type(got))
        if np.shape(got) != want.shape or got_dtype != want.dtype:
            raise ValueError(
                f"start{jax.tree_util.keystr(path)} has shape {np.shape(got)} and dtype "
                f"{got_dtype}; this run needs {want.shape} {want.dtype}"
            )
    if not 0 <= int(carry.iteration) <= iterations:
        raise ValueError(f"start.iteration = {int(carry.iteration)} outside [0, {iterations}]")
    return carry


# --------------------------------------------------------------------------- sweep


class MnistSweepResult(NamedTuple):
    """What :func:`sweep` returns; arrays carry the grid's axes, then the tutorial's.

    ``axes``: each swept hyperparameter's values, then ``"seed"``: the grid is
    their full product. ``losses[*axes, iteration]``: train loss after each
    update. ``final_loss[*axes]``: mean of the last ``final_window`` losses.
    ``test_accuracy[*axes]``: after the last iteration.
    """

    axes: dict[str, np.ndarray]
    losses: np.ndarray
    final_loss: np.ndarray
    test_accuracy: np.ndarray
    compile_seconds: float
    run_seconds: float
    device_count: int
    chunk_count: int = 1

    @property
    def seeds(self) -> np.ndarray:
        return self.axes["seed"]


@functools.lru_cache(maxsize=64)
def _sweep_point_function(make_optimizer, sizes, dtype, iterations, batch_size):
    """One network of the sweep: ``(losses, test accuracy)`` of a grid point."""

    def train_one(point, train_images, train_labels, test_images, test_labels):
        point = dict(point)
        init_key, batch_key = seed_keys(point.pop("seed"))
        optimizer = make_optimizer(**point)
        params = init_mlp(init_key, sizes, dtype)

        def body(carry, iteration):
            params, state = carry
            indices = batch_indices(batch_key, iteration, train_images.shape[0], batch_size)
            params, state, step_loss = train_step(
                optimizer, params, state, train_images[indices], train_labels[indices]
            )
            return (params, state), step_loss.astype(jnp.float32)

        (params, _), losses = lax.scan(
            body, (params, optimizer.init(params)), jnp.arange(iterations, dtype=jnp.int32)
        )
        return losses, accuracy(params, test_images, test_labels).astype(jnp.float32)

    return train_one


def sweep(
    make_optimizer: Callable[..., optax.GradientTransformation] | str,
    grid: Mapping[str, Any],
    data: MnistData,
    iterations: int = 500,
    batch_size: int = 128,
    *,
    seeds: Sequence[int] = (0,),
    sizes: Sequence[int] = DEFAULT_SIZES,
    dtype: Any = jnp.float32,
    final_window: int = 100,
    devices: Sequence[jax.Device] | None = None,
    chunk_size: int | None = None,
) -> MnistSweepResult:
    """Train a network for every point of ``grid`` x ``seeds`` at once; losses and accuracies.

    ``grid`` is ``{hyperparameter: values}`` as for :func:`jaxopt_lab.sweep`
    (names from :func:`~jaxopt_lab.grid.hyperparameter_names`); ``seeds`` is
    the last axis. Point ``(**hyperparameters, seed)`` is exactly the network
    that ``compare({"x": make_optimizer(**hyperparameters)}, data, iterations,
    batch_size, seed)`` trains (same initial weights, same batches), up to
    float rounding of the batched matrix products. ``make_optimizer`` receives
    the hyperparameters traced (``vmap``): e.g. ``jaxopt_lab.adam``.

    The points run through :class:`~jaxopt_lab.grid.GridMap`: split over
    ``devices`` (default every device of every host) with ``shard_map``, in
    chunks of ``chunk_size`` networks (default: all at once).
    """
    make_optimizer = as_make_optimizer(make_optimizer)
    iterations = _check_positive("iterations", iterations)
    batch_size = _check_positive("batch_size", batch_size)
    final_window = _check_positive("final_window", final_window)
    sizes = check_sizes(sizes)
    if isinstance(grid, Mapping) and "seed" in grid:
        raise ValueError("grid: pass the seeds as seeds=..., not as a grid axis")
    axes = grid_axes(make_optimizer, grid, dtype)
    seeds = np.asarray(seeds).reshape(-1)
    if seeds.size == 0:
        raise ValueError("seeds must hold at least one seed")
    for seed in seeds.tolist():
        check_seed(seed, "seeds")
    axes["seed"] = seeds.astype(np.uint32)
    arrays = check_data(data, sizes, dtype)
    grid_map = GridMap(
        _sweep_point_function(make_optimizer, sizes, np.dtype(dtype), iterations, batch_size),
        axes,
        devices=devices,
        chunk_size=chunk_size if chunk_size is not None else math.prod(map(len, axes.values())),
        precompile=True,
    )
    begin = time.perf_counter()
    losses, test_accuracy = grid_map.collect(*arrays)
    elapsed = time.perf_counter() - begin

    shape = grid_map.shape
    losses = losses.reshape(*shape, iterations)
    window = min(final_window, iterations)
    return MnistSweepResult(
        axes=axes,
        losses=losses,
        final_loss=losses[..., -window:].mean(axis=-1),
        test_accuracy=test_accuracy.reshape(shape),
        compile_seconds=grid_map.compile_seconds,
        run_seconds=elapsed - grid_map.compile_seconds,
        device_count=grid_map.device_count,
        chunk_count=grid_map.chunk_count,
    )


# --------------------------------------------------------------------------- curves


def smooth_curve(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """The tutorial's loss-curve smoothing (``common/util.py`` ``smooth_curve``).

    A convolution with a normalised Kaiser window of length 11 and beta 2, the
    series extended at each end by its reflection; the output has the input's
    length. Series shorter than 11 points are returned unchanged.
    """
    values = np.asarray(values, np.float64)
    window_length = 11
    if values.ndim != 1:
        raise ValueError(f"values must be one-dimensional, got shape {values.shape}")
    if values.size < window_length:
        return values.copy()
    extended = np.r_[values[window_length - 1 : 0 : -1], values, values[-1:-window_length:-1]]
    window = np.kaiser(window_length, 2)
    smoothed = np.convolve(window / window.sum(), extended, mode="valid")
    return smoothed[5 : len(smoothed) - 5]
