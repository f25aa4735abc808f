"""LAMB against optax and Keras 3, and its trust ratio.

Tolerances, measured over 1000 steps of N(0, 1) gradients from N(0, 1) params:
the formula is optax's and Keras's, written with the lab's Adam moments
(``m += (1 - b1) * (g - m)``, Keras's form; optax writes ``(1 - b1) * g + b1 * m``),
so the two differ by rounding only: at most 2.5 ulps of the leaf's scale in
float32, 1.8 in float64 (4e-16 relative). Held to 8 ulps flat and 1e-12 relative.
Keras applies weight decay as its own update of p before the step: 20 ulps after
1000 steps in float32 (0.43 a step at most), held to 1 ulp per step.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_lab
from jaxopt_lab import crosscheck
from jaxopt_lab.equivalences import table_params

STEPS = 300
SAME_FORMULA = {np.dtype(np.float32): {"ulps": 8}, np.dtype(np.float64): {"rtol": 1e-12}}
OWN_DECAY_STEP = {
    np.dtype(np.float32): {"ulps_per_step": 1.0},
    np.dtype(np.float64): {"rtol": 1e-12},
}


def f32(value: float) -> float:
    return float(np.float32(value))



@pytest.fixture(scope="module")
def problem():
    params = table_params()
    return params, crosscheck.random_gradients(params, STEPS, seed=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "lab, other",
    [
        (lambda: jaxopt_lab.lamb(1e-3), lambda: optax.lamb(1e-3)),
        (
            lambda: jaxopt_lab.lamb(3e-3, 0.8, 0.95, 1e-4, 0.1),
            lambda: optax.lamb(3e-3, 0.8, 0.95, 1e-4, weight_decay=0.1),
        ),
    ],
    ids=["default", "non-default"],
)
def test_lamb_matches_optax(problem, lab, other, dtype):
    params, gradients = problem
    bounds = SAME_FORMULA[np.dtype(dtype)]
    crosscheck.assert_equivalent(lab(), other(), params, gradients, dtype=dtype, **bounds)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weight_decay", [None, 0.1])
def test_lamb_matches_keras(problem, keras, weight_decay, dtype):
    params, gradients = problem
    if weight_decay is None:
        lab = jaxopt_lab.lamb(f32(1e-3), eps=1e-7, decay_in_trust_ratio=False)
        other = keras.optimizers.Lamb()
        bounds = SAME_FORMULA[np.dtype(dtype)]
    else:
        lab = jaxopt_lab.lamb(f32(3e-3), 0.8, 0.95, 1e-4, 0.1, decay_in_trust_ratio=False)
        other = keras.optimizers.Lamb(3e-3, 0.8, 0.95, 1e-4, weight_decay=0.1)
        bounds = OWN_DECAY_STEP[np.dtype(dtype)]
    crosscheck.assert_equivalent(lab, other, params, gradients, dtype=dtype, **bounds)


def test_where_the_decay_goes_matters(problem, keras):
    # Keras's trust ratio ignores the decay; optax's (the paper's) includes it.
    params, gradients = problem
    result = crosscheck.compare(
        jaxopt_lab.lamb(f32(3e-3), 0.8, 0.95, 1e-4, 0.1),
        keras.optimizers.Lamb(3e-3, 0.8, 0.95, 1e-4, weight_decay=0.1),
        params,
        gradients,
        dtype=np.float64,
    )
    assert result.max_rel_error[-1] > 1e-3


def test_trust_ratio_is_the_ratio_of_norms_and_one_at_zero():
    optimizer = jaxopt_lab.lamb(0.1)
    params = {"w": jnp.array([3.0, 4.0]), "zero": jnp.zeros(2)}
    grads = {"w": jnp.array([1.0, -1.0]), "zero": jnp.array([1.0, -2.0])}
    updates, _ = optimizer.update(grads, optimizer.init(params), params)
    # First step: Adam's direction is g / (|g| + eps), about (1, -1), norm sqrt(2);
    # ||w|| = 5, so the step is 0.1 * 5 / sqrt(2) per coordinate.
    direction = np.array([1.0, -1.0]) / (1 + 1e-6)
    np.testing.assert_allclose(
        updates["w"], -0.1 * 5 / np.linalg.norm(direction) * direction, rtol=1e-6
    )
    # A zero leaf has no scale: the ratio is 1 and the step is plain Adam's.
    np.testing.assert_allclose(updates["zero"], -0.1 * np.array([1.0, -1.0]), rtol=1e-5)


def test_lamb_needs_params():
    optimizer = jaxopt_lab.lamb()
    grads = {"w": jnp.ones(2)}
    with pytest.raises(ValueError, match="pass params"):
        optimizer.update(grads, optimizer.init(grads))


def test_on_one_flat_vector_lamb_is_another_optimizer():
    # The trust ratio is per leaf: flattening makes it one ratio for the whole model.
    from jaxopt_lab import flat

    params = {"w": jnp.full((4, 4), 3.0), "b": jnp.full(4, 0.01)}
    grads = {"w": jnp.ones((4, 4)), "b": jnp.ones(4)}
    optimizer = jaxopt_lab.lamb(0.1)
    per_leaf, _ = optimizer.update(grads, optimizer.init(params), params)
    wrapped = flat.flatten(optimizer)
    whole, _ = wrapped.update(grads, wrapped.init(params), params)
    assert not np.allclose(whole["b"], per_leaf["b"], rtol=1e-2)
