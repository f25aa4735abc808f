"""LAMB: where Keras and optax put the decay, and its trust ratio.

LAMB against optax and Keras 3, row by row with its tolerance, is the equivalence
table's (tests/equivalences/); this file checks what the table does not: that the
two libraries' decay placements really differ, and the trust ratio itself.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import jaxopt_lab
from jaxopt_lab import crosscheck
from jaxopt_lab.equivalences import table_params

STEPS = 300


def f32(value: float) -> float:
    return float(np.float32(value))


@pytest.fixture(scope="module")
def problem():
    params = table_params()
    return params, crosscheck.random_gradients(params, STEPS, seed=1)


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
