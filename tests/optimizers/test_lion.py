"""Lion against optax and Keras 3, and its own behaviour.

Tolerances: the lab writes Lion's update in optax's order of operations, so
against optax it is bit-identical (0 ulps, measured over 1000 steps in both
dtypes); against Keras too, without weight decay. Keras applies the weight decay
as its own update of p before the step (``p -= p * wd * lr``): one more rounding
of p per step, measured 26 ulps of the leaf's scale after 1000 steps in float32
(0.86 at step 1), 1.7 in float64; held to 1 ulp per step and 1e-12 relative.
Keras keeps its learning rate in a float32 variable, so the lab is given that
rounded value.
"""

from __future__ import annotations

import numpy as np
import optax
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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "lab, other",
    [
        (lambda: jaxopt_lab.lion(1e-4, weight_decay=1e-3), lambda: optax.lion(1e-4)),
        (
            lambda: jaxopt_lab.lion(3e-3, 0.8, 0.95, 0.1),
            lambda: optax.lion(3e-3, 0.8, 0.95, weight_decay=0.1),
        ),
    ],
    ids=["default", "non-default"],
)
def test_lion_is_bit_identical_to_optax(problem, lab, other, dtype):
    params, gradients = problem
    crosscheck.assert_equivalent(lab(), other(), params, gradients, ulps=0, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lion_without_weight_decay_is_bit_identical_to_keras(problem, keras, dtype):
    params, gradients = problem
    crosscheck.assert_equivalent(
        jaxopt_lab.lion(f32(1e-3)), keras.optimizers.Lion(), params, gradients, ulps=0, dtype=dtype
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lion_with_weight_decay_matches_keras(problem, keras, dtype):
    params, gradients = problem
    bounds = {"ulps_per_step": 1.0} if dtype == np.float32 else {"rtol": 1e-12}
    crosscheck.assert_equivalent(
        jaxopt_lab.lion(f32(3e-3), 0.8, 0.95, 0.1),
        keras.optimizers.Lion(3e-3, 0.8, 0.95, weight_decay=0.1),
        params,
        gradients,
        dtype=dtype,
        **bounds,
    )


def test_lion_steps_by_the_sign_and_not_at_zero():
    optimizer = jaxopt_lab.lion(0.1, b1=0.5)
    params = {"w": np.array([1.0, 1.0, 1.0], np.float32)}
    grads = {"w": np.array([-3.0, 0.0, 1e-30], np.float32)}
    updates, state = optimizer.update(grads, optimizer.init(params), params)
    np.testing.assert_array_equal(updates["w"], np.float32([0.1, 0.0, -0.1]))
    np.testing.assert_allclose(state.momentum["w"], 0.01 * grads["w"])


def test_lion_needs_params_only_with_weight_decay():
    grads = {"w": np.ones(2, np.float32)}
    plain = jaxopt_lab.lion()
    plain.update(grads, plain.init(grads))
    decayed = jaxopt_lab.lion(weight_decay=0.1)
    with pytest.raises(ValueError, match="pass params"):
        decayed.update(grads, decayed.init(grads))
