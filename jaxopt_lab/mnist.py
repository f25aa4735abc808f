"""The seed's MNIST experiment: an MLP in plain JAX, optimizers trained side by side.

The model is the seed's ``MultiLayerNet``: fully connected layers of ``sizes``
(default 784-100-100-100-100-10), He initialisation (``w ~ N(0, 2 / fan_in)``,
``b = 0``), ReLU between layers, softmax cross-entropy averaged over the batch.

:func:`compare` is the seed's ``optimizer_compare_mnist.py``: one network per
optimizer, all starting from the same weights, every one seeing the same
batches (``batch_size`` indices drawn with replacement, as the seed's
``np.random.choice(train_size, batch_size)``), the train loss recorded after
each update on that iteration's batch (as the seed records it). All optimizers
step inside one ``lax.scan`` body: the whole comparison is one compiled
program, run in chunks of ``chunk_size`` iterations so that a caller can show
progress and save checkpoints. The randomness comes from ``seed`` only, and
each iteration's batch from ``fold_in(batch_key, iteration)``: the same seed
gives the same numbers bit for bit, and a run resumed from a saved
:class:`CompareCarry` continues exactly where it stopped.

:func:`sweep` trains learning rates x seeds networks of one optimizer at once
(``vmap``), sharded over devices where there are several (``shard_map``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax
from jax.sharding import Mesh, PartitionSpec

from jaxopt_lab.data import MnistData

DEFAULT_SIZES = (784, 100, 100, 100, 100, 10)
"""The seed's network: 784 inputs, four hidden layers of 100, 10 classes."""

Params = list[dict[str, jax.Array]]


# --------------------------------------------------------------------------- model


def init_mlp(
    key: jax.Array, sizes: Sequence[int] = DEFAULT_SIZES, dtype: Any = jnp.float32
) -> Params:
    """He-initialised MLP parameters: a list of ``{"w": (n_in, n_out), "b": (n_out,)}``.

    ``w = sqrt(2 / n_in) * N(0, 1)``, ``b = 0``: the seed's
    ``MultiLayerNet(weight_init_std="relu")`` (He et al., 2015).
    """
    sizes = tuple(int(size) for size in sizes)
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must be at least two positive layer sizes, got {sizes}")
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        {
            "w": jnp.sqrt(jnp.asarray(2.0 / n_in, dtype))
            * jax.random.normal(layer_key, (n_in, n_out), dtype),
            "b": jnp.zeros((n_out,), dtype),
        }
        for layer_key, n_in, n_out in zip(keys, sizes[:-1], sizes[1:], strict=True)
    ]


def mlp_logits(params: Params, images: jax.Array) -> jax.Array:
    """Logits (batch, classes): affine layers with ReLU between them, none after the last."""
    activations = images
    for layer in params[:-1]:
        activations = jax.nn.relu(activations @ layer["w"] + layer["b"])
    return activations @ params[-1]["w"] + params[-1]["b"]


def loss(params: Params, images: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy of integer ``labels`` (the seed's ``SoftmaxWithLoss``).

    Computed with ``log_softmax`` (the seed adds 1e-7 inside the log instead;
    the two differ by less than 1e-6 unless a probability is below ~1e-5).
    """
    log_probabilities = jax.nn.log_softmax(mlp_logits(params, images))
    picked = jnp.take_along_axis(log_probabilities, labels[:, None].astype(jnp.int32), axis=1)
    return -jnp.mean(picked)


def accuracy(params: Params, images: jax.Array, labels: jax.Array) -> jax.Array:
    """Fraction of ``images`` whose largest logit is at ``labels``."""
    return jnp.mean(jnp.argmax(mlp_logits(params, images), axis=1) == labels)


def train_step(
    optimizer: optax.GradientTransformation,
    params: Params,
    state: Any,
    images: jax.Array,
    labels: jax.Array,
) -> tuple[Params, Any, jax.Array]:
    """One step of the seed's loop: gradient, update, then the loss on the same batch.

    Returns ``(params, state, loss)`` where ``loss`` is measured *after* the
    update, as the seed appends it to ``train_loss``.
    """
    grads = jax.grad(loss)(params, images, labels)
    updates, state = optimizer.update(grads, state, params)
    params = optax.apply_updates(params, updates)
    return params, state, loss(params, images, labels)


# --------------------------------------------------------------------------- randomness


def seed_keys(seed: int | jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(init_key, batch_key)`` derived from ``seed``: the only randomness of a run."""
    init_key, batch_key = jax.random.split(jax.random.key(seed))
    return init_key, batch_key


def batch_indices(
    batch_key: jax.Array, iteration: int | jax.Array, train_size: int, batch_size: int
) -> jax.Array:
    """The training indices of ``iteration``: ``batch_size`` draws with replacement.

    The JAX counterpart of the seed's ``np.random.choice(train_size,
    batch_size)``, keyed by ``fold_in(batch_key, iteration)`` so that any
    iteration's batch can be drawn without drawing the ones before it.
    """
    key = jax.random.fold_in(batch_key, iteration)
    return jax.random.randint(key, (batch_size,), 0, train_size, dtype=jnp.int32)


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
      iterations: total training iterations (the seed: 2000).
      batch_size: examples per iteration, drawn with replacement (the seed: 128).
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
    train_images = jnp.asarray(data.train_images, dtype)
    train_labels = jnp.asarray(data.train_labels, jnp.int32)
    if train_images.ndim != 2 or train_images.shape[1] != sizes[0]:
        raise ValueError(
            f"data.train_images has shape {train_images.shape}; sizes[0] = {sizes[0]} "
            "needs (n, sizes[0])"
        )
    if start is None:
        carry = initial_carry(optimizers, iterations, seed, sizes=sizes, dtype=dtype)
    else:
        carry = _check_carry(start, len(names), iterations)
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
    test_images = jnp.asarray(data.test_images, dtype)
    test_labels = jnp.asarray(data.test_labels, jnp.int32)
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


def _check_carry(carry: Any, n_optimizers: int, iterations: int) -> CompareCarry:
    if not isinstance(carry, CompareCarry):
        carry = CompareCarry(*carry)
    losses_shape = np.shape(carry.losses)
    if losses_shape != (n_optimizers, iterations):
        raise ValueError(
            f"start.losses has shape {losses_shape}, expected {(n_optimizers, iterations)} "
            "(the same optimizers and iterations as the run it was saved from)"
        )
    if len(carry.params) != n_optimizers or len(carry.states) != n_optimizers:
        raise ValueError(f"start holds {len(carry.params)} networks, expected {n_optimizers}")
    if not 0 <= int(carry.iteration) <= iterations:
        raise ValueError(f"start.iteration = {int(carry.iteration)} outside [0, {iterations}]")
    return carry


# --------------------------------------------------------------------------- sweep


class MnistSweepResult(NamedTuple):
    """What :func:`sweep` returns; arrays carry the grid axes ``(learning_rate, seed)``.

    ``losses[learning_rate, seed, iteration]``: train loss after each update.
    ``final_loss[learning_rate, seed]``: mean of the last ``final_window``
    losses. ``test_accuracy[learning_rate, seed]``: after the last iteration.
    """

    learning_rates: np.ndarray
    seeds: np.ndarray
    losses: np.ndarray
    final_loss: np.ndarray
    test_accuracy: np.ndarray
    compile_seconds: float
    run_seconds: float
    device_count: int


def sweep(
    make_optimizer: Callable[[jax.Array], optax.GradientTransformation],
    learning_rates: Sequence[float] | np.ndarray,
    seeds: Sequence[int] | np.ndarray,
    data: MnistData,
    iterations: int = 500,
    batch_size: int = 128,
    *,
    sizes: Sequence[int] = DEFAULT_SIZES,
    dtype: Any = jnp.float32,
    final_window: int = 100,
    devices: Sequence[jax.Device] | None = None,
) -> MnistSweepResult:
    """Train ``len(learning_rates) * len(seeds)`` networks at once; losses and accuracies.

    Point ``(learning_rate, seed)`` is exactly the network that
    ``compare({"x": make_optimizer(learning_rate)}, data, iterations,
    batch_size, seed)`` trains (same initial weights, same batches), up to
    float rounding of the batched matrix products. ``make_optimizer`` receives
    the learning rate as a traced scalar (``vmap``), e.g. ``jaxopt_lab.adam``.

    The points are split over ``devices`` (default: all of ``jax.devices()``)
    with ``shard_map`` when there are several; each device trains its share
    with ``vmap``, with no communication.
    """
    iterations = _check_positive("iterations", iterations)
    batch_size = _check_positive("batch_size", batch_size)
    final_window = _check_positive("final_window", final_window)
    learning_rates = np.asarray(learning_rates, np.float32).reshape(-1)
    seeds = np.asarray(seeds).reshape(-1)
    if learning_rates.size == 0 or seeds.size == 0:
        raise ValueError("learning_rates and seeds must each hold at least one value")
    if not np.all(np.isfinite(learning_rates)) or np.any(learning_rates < 0):
        raise ValueError(f"learning_rates must be finite and >= 0, got {learning_rates}")
    if not np.issubdtype(seeds.dtype, np.integer):
        raise ValueError(f"seeds must be integers, got {seeds!r}")
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("devices must name at least one device")

    def train_one(learning_rate, seed, train_images, train_labels, test_images, test_labels):
        optimizer = make_optimizer(learning_rate)
        init_key, batch_key = seed_keys(seed)
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

    grid_lr, grid_seed = np.meshgrid(learning_rates, seeds, indexing="ij")
    point_lr, point_seed = grid_lr.reshape(-1), grid_seed.reshape(-1).astype(np.int32)
    n_points = point_lr.size
    batched = jax.vmap(train_one, in_axes=(0, 0, None, None, None, None))
    if len(devices) > 1:
        padded = math.ceil(n_points / len(devices)) * len(devices)
        point_lr = np.pad(point_lr, (0, padded - n_points), mode="edge")
        point_seed = np.pad(point_seed, (0, padded - n_points), mode="edge")
        mesh = Mesh(np.asarray(devices), ("points",))
        points, replicated = PartitionSpec("points"), PartitionSpec()
        batched = jax.shard_map(
            batched,
            mesh=mesh,
            in_specs=(points, points, replicated, replicated, replicated, replicated),
            out_specs=(points, points),
            # No collectives inside; optimizer states start as unvarying zeros and
            # become per-device in the scan, which the vma check would reject.
            check_vma=False,
        )
    arguments = (
        jnp.asarray(point_lr),
        jnp.asarray(point_seed),
        jnp.asarray(data.train_images, dtype),
        jnp.asarray(data.train_labels, jnp.int32),
        jnp.asarray(data.test_images, dtype),
        jnp.asarray(data.test_labels, jnp.int32),
    )
    begin = time.perf_counter()
    compiled = jax.jit(batched).lower(*arguments).compile()
    compile_seconds = time.perf_counter() - begin
    begin = time.perf_counter()
    losses, test_accuracy = jax.block_until_ready(compiled(*arguments))
    run_seconds = time.perf_counter() - begin

    grid = (learning_rates.size, seeds.size)
    losses = np.asarray(losses)[:n_points].reshape(*grid, iterations)
    window = min(final_window, iterations)
    return MnistSweepResult(
        learning_rates=learning_rates,
        seeds=seeds,
        losses=losses,
        final_loss=losses[..., -window:].mean(axis=-1),
        test_accuracy=np.asarray(test_accuracy)[:n_points].reshape(grid),
        compile_seconds=compile_seconds,
        run_seconds=run_seconds,
        device_count=len(devices),
    )


# --------------------------------------------------------------------------- curves


def smooth_curve(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """The seed's loss-curve smoothing (``common/util.py`` ``smooth_curve``).

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
