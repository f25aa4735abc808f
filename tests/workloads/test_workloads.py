"""The workloads: each against an independent formula, and the protocol's checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.problems import rosenbrock as rosenbrock_function
from jaxopt_lab.workloads import (
    WORKLOADS,
    Workload,
    get_workload,
    modular_addition,
    noisy_quadratic,
)


def test_noisy_quadratic_gradient_is_curvature_times_params_plus_scaled_noise():
    # Zhang et al. (2019): g = h * theta + sqrt(h / B) * xi, h_i = 1 / i; computed in NumPy.
    workload = get_workload("noisy_quadratic")
    params = workload.init_params(jax.random.key(0))
    noise = workload.sample_batch(workload.train, jax.random.key(1))
    gradient = jax.grad(workload.loss)(params, noise, 0.0)
    h = 1.0 / np.arange(1, noise_size(noise) + 1, dtype=np.float64)
    expected = h * np.asarray(params, np.float64) + np.sqrt(h / 128) * np.asarray(noise)
    np.testing.assert_allclose(gradient, expected, rtol=1e-5, atol=1e-7)  # float32 rounding
    exact = 0.5 * np.sum(h * np.asarray(params, np.float64) ** 2)
    assert float(workload.validation_metric(params, ())) == pytest.approx(exact, rel=1e-5)


def noise_size(noise):
    return noise.shape[0]


def test_noisy_quadratic_noise_has_the_curvature_over_the_batch_as_covariance():
    keys = jax.random.split(jax.random.key(2), 2000)
    zero = jnp.zeros(noisy_quadratic.DIMENSIONS)
    grads = jax.vmap(
        lambda k: jax.grad(noisy_quadratic.loss)(zero, noisy_quadratic.sample_noise((), k), 0.0)
    )(keys)
    variance = np.var(np.asarray(grads[:, :5]), axis=0)
    expected = 1.0 / np.arange(1, 6) / noisy_quadratic.BATCH_SIZE
    np.testing.assert_allclose(variance, expected, rtol=0.1)  # 2000 samples: ~3% standard error


def test_rosenbrock_is_the_2d_labs_function_from_its_start():
    workload = get_workload("rosenbrock")
    params = workload.init_params(jax.random.key(5))
    np.testing.assert_array_equal(params, np.float32([-1.2, 1.0]))
    assert float(workload.loss(params, None, 0.0)) == pytest.approx(24.2, rel=1e-6)
    point = jnp.asarray([0.3, -0.2])
    assert workload.validation_metric(point, ()) == rosenbrock_function(point)


def test_modular_addition_splits_partition_the_table_with_correct_sums():
    (train_pairs, train_sums), (validation_pairs, validation_sums) = modular_addition.pair_splits()
    assert len(train_pairs) + len(validation_pairs) == 97 * 97
    assert len(train_pairs) == round(0.4 * 97 * 97)
    every = {tuple(p) for p in np.concatenate([train_pairs, validation_pairs]).tolist()}
    assert len(every) == 97 * 97  # no pair in both
    np.testing.assert_array_equal(train_sums, (train_pairs[:, 0] + train_pairs[:, 1]) % 97)
    np.testing.assert_array_equal(validation_sums, validation_pairs.sum(axis=1) % 97)


@pytest.mark.slow
def test_mnist_workloads_hold_out_the_last_10000_training_images():
    from jaxopt_lab.data import load_mnist

    data = load_mnist()
    mnist = get_workload("mnist_mlp")
    tutorial = get_workload("tutorial_mlp")
    assert mnist.train[0].shape == (50_000, 784) and mnist.validation[0].shape == (10_000, 784)
    np.testing.assert_array_equal(tutorial.validation[1], data.train_labels[50_000:])
    np.testing.assert_array_equal(tutorial.train[0], data.train_images[:50_000])
    # AlgoPerf's normalisation: (x - 0.1307) / 0.3081
    np.testing.assert_allclose(
        mnist.validation[0], (data.train_images[50_000:] - 0.1307) / 0.3081, rtol=1e-6
    )
    shapes = [p["w"].shape for p in mnist.init_params(jax.random.key(0))]
    assert shapes == [(784, 128), (128, 10)]
    params = tutorial.init_params(jax.random.key(0))
    assert [p["w"].shape[1] for p in params] == [100, 100, 100, 100, 10]


def test_get_workload_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown workload 'mnist'.*noisy_quadratic"):
        get_workload("mnist")
    assert set(WORKLOADS) >= {"mnist_mlp", "tutorial_mlp", "noisy_quadratic",
                              "modular_addition", "rosenbrock"}  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("direction", "up", "direction must be one of"),
        ("steps", 0, "steps must be a positive integer"),
        ("eval_every", 3, r"steps \(10\) must be a multiple of eval_every \(3\)"),
        ("target", float("nan"), "target must be a finite number"),
    ],
)
def test_workload_refuses_bad_fields(field, value, message):
    fields = dict(steps=10, eval_every=5, train=(np.zeros((4, 1)),))
    fields[field] = value
    with pytest.raises(ValueError, match=message):
        Workload("mine", lambda key: 0.0, lambda p, b, s: p, lambda p, v: p, **fields)


def test_reached_is_strict_and_never_for_nan():
    workload = get_workload("rosenbrock")  # minimize
    target = workload.target
    np.testing.assert_array_equal(
        workload.reached([target / 2, target, np.nan, 2 * target]), [True, False, False, False]
    )
