"""``noisy_quadratic``: the noisy quadratic model of Zhang et al. (2019).

Zhang, Li, Nado, Martens, Sachdeva, Dahl, Shallue, Grosse (2019), "Which
algorithmic choices matter at which batch sizes? Insights from a noisy quadratic
model". In the eigenbasis of the curvature the loss is

    L(θ) = ½ Σᵢ hᵢ θᵢ²,   hᵢ = 1 / i,  i = 1 .. 10⁴,

and a minibatch gradient of batch size B is ``g = h ⊙ θ + sqrt(h / B) ⊙ ξ``,
``ξ ~ N(0, I)``: the gradient noise has covariance ``C / B`` with ``C = H``,
the model's choice for the loss of a well-specified model. The training loss
of a batch is ``½ Σ hθ² + Σ sqrt(h/B) ξ θ`` (its gradient is ``g``); the
validation metric is the exact ``L(θ)``. ``θ₀ ~ N(0, I)`` from the key.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxopt_lab.workloads.protocol import Workload
from jaxopt_lab.workloads.targets import TARGETS

DIMENSIONS = 10_000
BATCH_SIZE = 128


def curvature(dimensions: int = DIMENSIONS) -> jax.Array:
    """The diagonal curvature ``hᵢ = 1 / i``."""
    return 1.0 / jnp.arange(1, dimensions + 1, dtype=jnp.float32)


def exact_loss(params: jax.Array) -> jax.Array:
    """``L(θ) = ½ Σ hᵢ θᵢ²``."""
    return 0.5 * jnp.sum(curvature(params.shape[0]) * params * params)


def init_params(key: jax.Array) -> jax.Array:
    return jax.random.normal(key, (DIMENSIONS,), jnp.float32)


def sample_noise(train: tuple, key: jax.Array) -> jax.Array:
    """The batch: ``ξ ~ N(0, I)`` that, scaled by ``sqrt(h / B)``, is the gradient noise."""
    del train
    return jax.random.normal(key, (DIMENSIONS,), jnp.float32)


def loss(params: jax.Array, noise: jax.Array, label_smoothing: jax.Array) -> jax.Array:
    """``½ Σ hθ² + Σ sqrt(h / B) ξ θ``: its gradient is the noisy gradient ``g``."""
    del label_smoothing
    noise_scale = jnp.sqrt(curvature(params.shape[0]) / BATCH_SIZE)
    return exact_loss(params) + jnp.sum(noise_scale * noise * params)


def validation_metric(params: jax.Array, validation: tuple) -> jax.Array:
    del validation
    return exact_loss(params)


def workload(steps: int = 500, eval_every: int = 10) -> Workload:
    """The noisy quadratic: ``steps`` updates at batch size 128, evaluated every ``eval_every``."""
    return Workload(
        "noisy_quadratic", init_params, loss, validation_metric,
        target=TARGETS["noisy_quadratic"], direction="minimize", batch_size=BATCH_SIZE,
        steps=steps, eval_every=eval_every, metric_name="exact loss", sample_batch=sample_noise,
        description="noisy quadratic model (Zhang et al. 2019), h_i = 1/i, 10^4 dimensions",
    )  # fmt: skip
