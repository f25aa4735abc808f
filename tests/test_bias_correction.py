"""``bias_correction="float32"``: Adam's 1 - b**t taken as optax and Keras take it."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_lab
from jaxopt_lab import crosscheck
from jaxopt_lab.optimizers.adam import AdamState
from jaxopt_lab.optimizers.plumbing import bias_corrections

STEPS = 1000


def _corrections(form: str, b1: float, b2: float) -> tuple[np.ndarray, np.ndarray]:
    counts = jnp.arange(STEPS, dtype=jnp.int32)
    state = AdamState(counts, None, None)
    return tuple(np.asarray(c) for c in bias_corrections(state, b1, b2, jnp.float32, form))


@pytest.mark.parametrize("b1, b2", [(0.9, 0.999), (0.8, 0.99), (0.95, 0.9999)])
def test_float32_corrections_are_optax_bit_for_bit(b1, b2):
    # optax.tree.bias_correction: 1 - decay**count, count the int32 1-based step.
    count = jnp.arange(1, STEPS + 1, dtype=jnp.int32)
    optax_first, optax_second = (np.asarray(1 - b ** count) for b in (b1, b2))
    first, second = _corrections("float32", b1, b2)
    np.testing.assert_array_equal(first, optax_first)
    np.testing.assert_array_equal(second, optax_second)
    # The accurate form is not optax's: 0.999 rounded to float32 moves 1 - b2 by 1.3e-5.
    _, accurate_second = _corrections("accurate", b1, b2)
    assert not np.array_equal(accurate_second, optax_second)


@pytest.mark.parametrize("b1, b2", [(0.9, 0.999), (0.8, 0.99)])
def test_float32_corrections_are_keras_bit_for_bit(b1, b2):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = crosscheck.import_keras()
    ops = keras.ops
    # Keras's Adam.update_step: ops.power(cast(beta, dtype), cast(iterations + 1, dtype)).
    step = ops.cast(ops.arange(STEPS) + 1, "float32")
    keras_first = np.asarray(1 - ops.power(ops.cast(b1, "float32"), step))
    keras_second = np.asarray(1 - ops.power(ops.cast(b2, "float32"), step))
    first, second = _corrections("float32", b1, b2)
    np.testing.assert_array_equal(first, keras_first)
    np.testing.assert_array_equal(second, keras_second)


def _params():
    rng = np.random.default_rng(0)
    return {"w": rng.standard_normal((16, 8)), "b": rng.standard_normal(16)}


def test_float32_form_brings_adam_to_keras():
    # Keras's Adam (eps_hat form) over 1000 float32 steps: with the accurate correction the
    # lab drifts 26 ulps of the leaf's scale (lr 1e-2); with Keras's rounding it stays within
    # 1.3 (what is left: Keras multiplies m by lr*sqrt(c2)/c1 before dividing, the lab after).
    keras = crosscheck.import_keras()
    params = _params()
    gradients = crosscheck.random_gradients(params, STEPS, seed=1)
    lr = float(np.float32(1e-2))
    worst = {}
    for form in ("accurate", "float32"):
        result = crosscheck.compare(
            jaxopt_lab.adam(lr, bias_correction=form),
            keras.optimizers.Adam(learning_rate=1e-2),
            params,
            gradients,
            dtype=np.float32,
        )
        worst[form] = float(result.max_scaled_ulps.max())
    assert worst["float32"] <= 2.0
    assert worst["accurate"] > 10 * worst["float32"]


def test_float32_form_brings_adam_closer_to_optax():
    # optax.adam over 1000 float32 steps, lr 1e-2: 37 ulps of the leaf's scale with the
    # accurate correction, 14 with optax's; what is left is the moment form ((1-b)g + b m in
    # optax, m + (1-b)(g - m) here) and XLA's rewriting of a division by a scalar.
    params = _params()
    gradients = crosscheck.random_gradients(params, STEPS, seed=1)
    worst = {}
    for form in ("accurate", "float32"):
        result = crosscheck.compare(
            jaxopt_lab.adam(1e-2, eps=1e-8, eps_hat=False, bias_correction=form),
            optax.adam(1e-2),
            params,
            gradients,
            dtype=np.float32,
        )
        worst[form] = float(result.max_scaled_ulps.max())
    assert worst["float32"] <= 20.0
    assert worst["accurate"] > 2 * worst["float32"]


def test_float64_run_keeps_float64():
    # In a float64 run the "float32" form takes 1 - b**t in float64 (optax's arithmetic
    # under jax_enable_x64): the corrections are then within 1e-15 of the accurate ones.
    with jax.enable_x64(True):
        state = AdamState(jnp.arange(STEPS, dtype=jnp.int32), None, None)
        rounded = bias_corrections(state, 0.9, 0.999, jnp.float64, "float32")
        accurate = bias_corrections(state, 0.9, 0.999, jnp.float64, "accurate")
        assert rounded[1].dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(rounded[1]), np.asarray(accurate[1]), rtol=1e-12)


def test_bad_bias_correction_names_the_argument():
    with pytest.raises(ValueError, match="bias_correction"):
        jaxopt_lab.adam(bias_correction="float16")
