"""``modular_addition``: learn ``(a + b) mod 97`` from part of the table.

The task of Power et al. (2022), "Grokking: generalization beyond overfitting
on small algorithmic datasets", with the small MLP of Liu et al. (2022), "Towards
understanding grokking": both tokens share a 32-dimensional embedding, the two
embeddings are concatenated, one ReLU layer of 128 units, 97 logits. Of the
97² = 9409 pairs, a fixed 40% (NumPy seed 0) train and the other 60% validate;
the metric is validation accuracy, target 0.99. Generalisation beyond the
training pairs depends strongly on weight decay and on the optimizer.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.workloads.classification import accuracy, cross_entropy
from jaxopt_lab.workloads.protocol import Workload
from jaxopt_lab.workloads.targets import TARGETS

MODULUS = 97
TRAIN_FRACTION = 0.4
EMBEDDING, HIDDEN = 32, 128


@functools.lru_cache(maxsize=1)
def pair_splits() -> tuple[tuple, tuple]:
    """``(train, validation)``, each ``(pairs (n, 2) int32, (a + b) mod 97 int32)``."""
    a, b = np.meshgrid(np.arange(MODULUS), np.arange(MODULUS), indexing="ij")
    pairs = np.stack([a.ravel(), b.ravel()], axis=1).astype(np.int32)
    sums = ((pairs[:, 0] + pairs[:, 1]) % MODULUS).astype(np.int32)
    order = np.random.default_rng(0).permutation(len(pairs))
    cut = int(round(TRAIN_FRACTION * len(pairs)))
    return (pairs[order[:cut]], sums[order[:cut]]), (pairs[order[cut:]], sums[order[cut:]])


def init_params(key: jax.Array) -> dict[str, jax.Array]:
    """Embeddings ``N(0, 1)``; dense layers LeCun normal, zero biases."""
    embed_key, hidden_key, out_key = jax.random.split(key, 3)
    dense = jax.nn.initializers.lecun_normal()
    return {
        "embedding": jax.random.normal(embed_key, (MODULUS, EMBEDDING), jnp.float32),
        "hidden_w": dense(hidden_key, (2 * EMBEDDING, HIDDEN), jnp.float32),
        "hidden_b": jnp.zeros((HIDDEN,), jnp.float32),
        "out_w": dense(out_key, (HIDDEN, MODULUS), jnp.float32),
        "out_b": jnp.zeros((MODULUS,), jnp.float32),
    }


def logits(params: dict, pairs: jax.Array) -> jax.Array:
    embedded = params["embedding"][pairs].reshape(pairs.shape[0], 2 * EMBEDDING)
    hidden = jax.nn.relu(embedded @ params["hidden_w"] + params["hidden_b"])
    return hidden @ params["out_w"] + params["out_b"]


def loss(params: dict, batch: tuple, label_smoothing: jax.Array) -> jax.Array:
    pairs, sums = batch
    return cross_entropy(logits(params, pairs), sums, label_smoothing)


def validation_accuracy(params: dict, validation: tuple) -> jax.Array:
    pairs, sums = validation
    return accuracy(logits(params, pairs), sums)


def workload(steps: int = 1000, eval_every: int = 50, batch_size: int = 256) -> Workload:
    """(a + b) mod 97 on 40% of the pairs (see the module docstring)."""
    train, validation = pair_splits()
    return Workload(
        "modular_addition", init_params, loss, validation_accuracy,
        train=train, validation=validation, target=TARGETS["modular_addition"],
        direction="maximize", batch_size=batch_size, steps=steps, eval_every=eval_every,
        label_smoothing=0.0, metric_name="validation accuracy",
        description="(a + b) mod 97, 40% of pairs, embedding + one-hidden-layer MLP",
    )  # fmt: skip
