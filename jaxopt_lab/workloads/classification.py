"""``mnist_mlp`` and ``tutorial_mlp``: MNIST classifiers with a held-out validation split.

Both hold out the last 10,000 of MNIST's 60,000 training images for validation
(AlgoPerf's split: ``train[:50000]`` trains, ``train[50000:]`` validates) and
keep the 10,000 test images as the test split; the metric is validation accuracy.

``mnist_mlp`` is AlgoPerf's MNIST workload (``algoperf/workloads/mnist``): a
784-128-10 MLP with a sigmoid, Flax ``Dense`` initialisation (LeCun normal
kernels, ``N(0, 1/fan_in)`` truncated at 2σ; zero biases), softmax
cross-entropy with optional label smoothing, inputs normalised with
mean 0.1307 and standard deviation 0.3081, target validation accuracy > 0.97.
AlgoPerf's TensorFlow pipeline applies these constants to the raw 0..255
pixels; they are MNIST's mean and deviation of pixels in [0, 1], which is where
they are applied here. Its baselines use batch 1024; here 128 (the tutorial's),
so that a CPU study fits in seconds.

``tutorial_mlp`` is the tutorial's 784-100-100-100-100-10 ReLU network with He
initialisation and batch 128 (:mod:`jaxopt_lab.mlp`), on pixels in [0, 1].
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxopt_lab import mlp
from jaxopt_lab.data import load_mnist
from jaxopt_lab.workloads.protocol import Workload
from jaxopt_lab.workloads.targets import TARGETS

VALIDATION_COUNT = 10_000
ALGOPERF_MEAN, ALGOPERF_STDDEV = 0.1307, 0.3081
ALGOPERF_SIZES = (784, 128, 10)


@functools.lru_cache(maxsize=1)
def mnist_splits() -> tuple[tuple, tuple, tuple]:
    """``(train, validation, test)``, each ``(images, labels)``: MNIST with the last 10,000
    training images held out (``jaxopt_lab.data.load_mnist``, ``$JAXOPT_LAB_MNIST_DIR``)."""
    data = load_mnist()
    keep = len(data.train_images) - VALIDATION_COUNT
    return (
        (data.train_images[:keep], data.train_labels[:keep]),
        (data.train_images[keep:], data.train_labels[keep:]),
        (data.test_images, data.test_labels),
    )


def cross_entropy(logits: jax.Array, labels: jax.Array, label_smoothing: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy against one-hot labels smoothed by ``label_smoothing``
    (``optax.smooth_labels``: ``(1 - α) y + α / classes``), as AlgoPerf's ``loss_fn``."""
    targets = optax.smooth_labels(jax.nn.one_hot(labels, logits.shape[-1]), label_smoothing)
    return -jnp.mean(jnp.sum(targets * jax.nn.log_softmax(logits), axis=-1))


def accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    return jnp.mean(jnp.argmax(logits, axis=-1) == labels)


# --------------------------------------------------------------------------- AlgoPerf's MNIST


def algoperf_init(key: jax.Array) -> list[dict[str, jax.Array]]:
    """Flax ``Dense`` defaults: LeCun-normal kernels (truncated normal, variance 1/fan_in)."""
    keys = jax.random.split(key, len(ALGOPERF_SIZES) - 1)
    kernel_init = jax.nn.initializers.lecun_normal()
    return [
        {"w": kernel_init(k, (n_in, n_out), jnp.float32), "b": jnp.zeros((n_out,), jnp.float32)}
        for k, n_in, n_out in zip(keys, ALGOPERF_SIZES[:-1], ALGOPERF_SIZES[1:], strict=True)
    ]


def algoperf_logits(params: list, images: jax.Array) -> jax.Array:
    """784 -> 128 (sigmoid) -> 10."""
    hidden = jax.nn.sigmoid(images @ params[0]["w"] + params[0]["b"])
    return hidden @ params[1]["w"] + params[1]["b"]


def algoperf_loss(params: list, batch: tuple, label_smoothing: jax.Array) -> jax.Array:
    images, labels = batch
    return cross_entropy(algoperf_logits(params, images), labels, label_smoothing)


def algoperf_accuracy(params: list, validation: tuple) -> jax.Array:
    images, labels = validation
    return accuracy(algoperf_logits(params, images), labels)


def _algoperf_normalize(images: np.ndarray) -> np.ndarray:
    return ((images - ALGOPERF_MEAN) / ALGOPERF_STDDEV).astype(np.float32)


def mnist_mlp(steps: int = 1000, eval_every: int = 100, batch_size: int = 128) -> Workload:
    """AlgoPerf's MNIST workload (see the module docstring)."""
    train, validation, test = mnist_splits()
    split = lambda pair: (_algoperf_normalize(pair[0]), pair[1])  # noqa: E731
    return Workload(
        "mnist_mlp", algoperf_init, algoperf_loss, algoperf_accuracy,
        train=split(train), validation=split(validation), test=split(test),
        target=TARGETS["mnist_mlp"], direction="maximize", batch_size=batch_size, steps=steps,
        eval_every=eval_every, label_smoothing=0.0, metric_name="validation accuracy",
        description="AlgoPerf's MNIST: 784-128-10 MLP, sigmoid, cross-entropy",
    )  # fmt: skip


# --------------------------------------------------------------------------- the tutorial's MLP


def tutorial_init(key: jax.Array) -> mlp.Params:
    return mlp.init_mlp(key, mlp.DEFAULT_SIZES)


def tutorial_loss(params: mlp.Params, batch: tuple, label_smoothing: jax.Array) -> jax.Array:
    del label_smoothing
    images, labels = batch
    return mlp.loss(params, images, labels)


def tutorial_accuracy(params: mlp.Params, validation: tuple) -> jax.Array:
    images, labels = validation
    return mlp.accuracy(params, images, labels)


def tutorial_mlp(steps: int = 1000, eval_every: int = 100) -> Workload:
    """The tutorial's network (784-100x4-10, ReLU, He init, batch 128) on held-out MNIST."""
    train, validation, test = mnist_splits()
    return Workload(
        "tutorial_mlp", tutorial_init, tutorial_loss, tutorial_accuracy,
        train=train, validation=validation, test=test, target=TARGETS["tutorial_mlp"],
        direction="maximize", batch_size=128, steps=steps, eval_every=eval_every,
        metric_name="validation accuracy",
        description="the tutorial's 784-100-100-100-100-10 ReLU MLP, He init, batch 128",
    )  # fmt: skip
