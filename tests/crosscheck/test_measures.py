"""The measuring: error measures, trajectories, compare (the adapters: test_adapters.py)."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import optax
import pytest

import jaxopt_lab
from jaxopt_lab import crosscheck, equivalences, reference


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16, np.float32, np.float64])
def test_ulp_distance_counts_representable_values(dtype):
    one = np.array([1.0], dtype)
    unsigned = np.dtype(f"uint{8 * one.itemsize}")
    above = (one.view(unsigned) + 1).view(dtype)  # the next representable value
    assert crosscheck.ulp_distance(one, above)[0] == 1
    tiny = np.array([ml_dtypes.finfo(dtype).smallest_subnormal], dtype)
    assert crosscheck.ulp_distance(tiny, -tiny)[0] == 2  # across zero: +tiny, 0, -tiny
    assert crosscheck.ulp_distance(np.array([0.0], dtype), np.array([-0.0], dtype))[0] == 0


def test_ulp_distance_matches_numpy_spacing_for_float32():
    rng = np.random.default_rng(0)
    values = rng.standard_normal(100).astype(np.float32)
    shifted = values + 3 * np.spacing(values)  # three representable steps away
    np.testing.assert_array_equal(crosscheck.ulp_distance(values, shifted), 3)


def test_normwise_relative_error():
    assert crosscheck.normwise_relative_error([1.0, -4.0], [1.0, -4.0]) == 0
    assert crosscheck.normwise_relative_error([0.0, 0.0], [0.0, 0.0]) == 0
    assert crosscheck.normwise_relative_error([1.0, 2.0], [1.5, 4.0]) == pytest.approx(0.5)


def test_identical_optimizers_do_not_part():
    params = equivalences.table_params()
    gradients = crosscheck.random_gradients(params, 50)
    result = crosscheck.compare(
        jaxopt_lab.adam(),
        optax.GradientTransformation(*jaxopt_lab.adam()),
        params,
        gradients,
        dtype=np.float32,
    )
    assert result.steps == 50
    assert np.all(result.max_ulp_distance == 0) and np.all(result.max_abs_error == 0)
    assert result.first_nonfinite_step is None


def test_first_nonfinite_step_is_reported():
    params = {"w": np.ones(3)}
    gradients = crosscheck.random_gradients(params, 10)
    gradients["w"][6, 1] = np.inf
    result = crosscheck.compare(jaxopt_lab.sgd(), reference.SGD(), params, gradients)
    assert result.first_nonfinite_step == 7
    with pytest.raises(AssertionError, match="non-finite at step 7"):
        crosscheck.assert_equivalent(jaxopt_lab.sgd(), reference.SGD(), params, gradients, ulps=10)


def test_assert_equivalent_says_where_they_part():
    params = {"w": np.ones((2, 2)), "b": np.zeros(2)}
    gradients = crosscheck.random_gradients(params, 20)
    gradients["b"][:] = 0.0  # only 'w' moves, so only 'w' can part
    # Adam's first step, lr * g * sqrt(1 - b2) / (1 - b1) * (1 - b1) / |g|, does not
    # depend on b1: the two part at step 2.
    with pytest.raises(AssertionError, match=r"parted at step 2 of 20, leaf \['w'\]"):
        crosscheck.assert_equivalent(
            jaxopt_lab.adam(), jaxopt_lab.adam(b1=0.8), params, gradients, ulps_per_step=1
        )
    result = crosscheck.assert_equivalent(
        jaxopt_lab.adam(), reference.Adam(), params, gradients, rtol=1e-12
    )
    assert result.max_rel_error[-1] <= 1e-12


def test_bad_input_is_named():
    params = {"w": np.ones(2)}
    with pytest.raises(ValueError, match="structure of params"):
        crosscheck.compare(jaxopt_lab.sgd(), reference.SGD(), params, {"v": np.ones((3, 2))})
    with pytest.raises(ValueError, match=r"steps must be in \[1, 3\]"):
        crosscheck.compare(
            jaxopt_lab.sgd(), reference.SGD(), params, {"w": np.ones((3, 2))}, steps=5
        )
    with pytest.raises(TypeError, match="cannot compare 42"):
        crosscheck.compare(jaxopt_lab.sgd(), 42, params, {"w": np.ones((3, 2))})
    with pytest.raises(ValueError, match="needs a bound"):
        crosscheck.assert_equivalent(
            jaxopt_lab.sgd(), reference.SGD(), params, {"w": np.ones((3, 2))}
        )


def test_complex_params_are_measured_on_both_parts():
    a = np.array([1 + 1j, 2 - 1j], np.complex64)
    b = a.copy()
    b.imag[1] = np.nextafter(np.float32(-1.0), np.float32(0.0))  # one float32 step up
    assert crosscheck.ulp_distance(a, b).max() == 1
    assert crosscheck.normwise_relative_error(a, b) == pytest.approx(
        (1.0 - abs(float(b.imag[1]))) / abs(2 - 1j), rel=1e-6
    )
