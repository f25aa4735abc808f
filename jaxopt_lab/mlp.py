"""The tutorial's network in plain JAX: the MLP, its loss, one training step, the randomness.

The model is the tutorial's ``MultiLayerNet``: fully connected layers of ``sizes``
(default 784-100-100-100-100-10), He initialisation (``w ~ N(0, 2 / fan_in)``,
``b = 0``), ReLU between layers, softmax cross-entropy averaged over the batch.
A run's randomness comes from its ``seed`` only (:func:`seed_keys`), an integer
in [0, 2**32): ``jax.random.key`` keeps 32 bits of a seed, so 2**32 would train
the same network as 0, and -1 the same as 2**32 - 1; both are refused.
:func:`check_data` checks hand-built data as the IDX loader checks its files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxopt_lab.data import MnistData

DEFAULT_SIZES = (784, 100, 100, 100, 100, 10)
"""The tutorial's network: 784 inputs, four hidden layers of 100, 10 classes."""

Params = list[dict[str, jax.Array]]


# --------------------------------------------------------------------------- model


def init_mlp(
    key: jax.Array, sizes: Sequence[int] = DEFAULT_SIZES, dtype: Any = jnp.float32
) -> Params:
    """He-initialised MLP parameters: a list of ``{"w": (n_in, n_out), "b": (n_out,)}``.

    ``w = sqrt(2 / n_in) * N(0, 1)``, ``b = 0``: the tutorial's
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
    """Mean softmax cross-entropy of integer ``labels`` (the tutorial's ``SoftmaxWithLoss``).

    Computed with ``log_softmax`` (the tutorial adds 1e-7 inside the log instead;
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
    """One step of the tutorial's loop: gradient, update, then the loss on the same batch.

    Returns ``(params, state, loss)`` where ``loss`` is measured *after* the
    update, as the tutorial appends it to ``train_loss``.
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

    The JAX counterpart of the tutorial's ``np.random.choice(train_size,
    batch_size)``, keyed by ``fold_in(batch_key, iteration)`` so that any
    iteration's batch can be drawn without drawing the ones before it.
    """
    key = jax.random.fold_in(batch_key, iteration)
    return jax.random.randint(key, (batch_size,), 0, train_size, dtype=jnp.int32)


MAX_SEED = 2**32 - 1
"""Seeds are integers in [0, MAX_SEED]: ``jax.random.key`` keeps 32 bits of a seed."""


def check_seed(seed: Any, name: str = "seed") -> int:
    """``seed`` as an int, or ``ValueError`` if it is not an integer in [0, 2**32)."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"{name} must be an integer in [0, 2**32), got {seed!r}")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(
            f"{name} must be in [0, 2**32), got {seed}: a random key keeps 32 bits, so "
            "larger or negative seeds would repeat other seeds' networks"
        )
    return int(seed)


def check_sizes(sizes: Any) -> tuple[int, ...]:
    try:
        sizes = tuple(int(size) for size in sizes)
    except (TypeError, ValueError):
        raise ValueError(f"sizes must be a sequence of layer sizes, got {sizes!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must be at least two positive layer sizes, got {sizes}")
    return sizes


def check_data(data: Any, sizes: tuple[int, ...], dtype: Any) -> tuple[np.ndarray, ...]:
    """The four arrays of ``data`` (images in ``dtype``, labels int32), checked as the file
    loader checks its files: as many labels as images, labels in ``0 .. sizes[-1] - 1``,
    images ``(n, sizes[0])`` and finite, at least one training and one test example."""
    if not all(hasattr(data, field) for field in MnistData._fields):
        raise TypeError(f"data must be an MnistData (or have its four fields), got {data!r}")
    classes = sizes[-1]
    arrays = []
    for split in ("train", "test"):
        images = np.asarray(getattr(data, f"{split}_images"))
        labels = np.asarray(getattr(data, f"{split}_labels"))
        where = f"data.{split}_images"
        if images.ndim != 2 or images.shape[1] != sizes[0]:
            raise ValueError(
                f"{where} has shape {images.shape}; sizes[0] = {sizes[0]} needs (n, {sizes[0]})"
            )
        if len(images) == 0:
            raise ValueError(f"{where} is empty: at least one example is needed")
        if labels.ndim != 1 or len(labels) != len(images):
            raise ValueError(
                f"data.{split}_labels has shape {labels.shape}; {where} has {len(images)} "
                f"images, so ({len(images)},) is needed"
            )
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"data.{split}_labels must be integers, got dtype {labels.dtype}")
        if labels.min() < 0 or labels.max() >= classes:
            bad = labels.min() if labels.min() < 0 else labels.max()
            raise ValueError(
                f"data.{split}_labels holds {int(bad)}, outside 0..{classes - 1} "
                f"(the network has {classes} classes)"
            )
        if not np.issubdtype(images.dtype, np.number) or not np.all(np.isfinite(images)):
            raise ValueError(f"{where} must hold finite numbers")
        arrays += [images.astype(np.dtype(dtype), copy=False), labels.astype(np.int32)]
    return tuple(arrays)
