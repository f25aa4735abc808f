"""The tutorial's network against the NumPy forward and backward pass of ``test_mnist``, and
its checks.

Tolerance: float64 throughout (the ``x64`` fixture), the same sums in another
order: 1e-12 relative.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab import mlp
from jaxopt_lab.data import MnistData
from jaxopt_lab.optimizers import sgd
from tests.test_mnist import numpy_forward
from tests.test_mnist import numpy_loss_and_grads as numpy_loss_and_gradients

SIZES = (6, 5, 4, 3)


@pytest.fixture
def network(x64):
    rng = np.random.default_rng(0)
    params = mlp.init_mlp(jax.random.key(1), SIZES, jnp.float64)
    params = [{"w": np.asarray(layer["w"]), "b": rng.standard_normal(layer["b"].shape)}
              for layer in params]  # fmt: skip
    images = rng.standard_normal((8, SIZES[0]))
    labels = rng.integers(0, SIZES[-1], 8)
    return params, images, labels


def test_init_is_he_normal_with_zero_biases():
    params = mlp.init_mlp(jax.random.key(0))
    assert [layer["w"].shape for layer in params] == list(
        zip(mlp.DEFAULT_SIZES[:-1], mlp.DEFAULT_SIZES[1:], strict=True)
    )
    assert all(not np.any(layer["b"]) for layer in params)
    first = np.asarray(params[0]["w"])  # 78,400 draws: the std within 2%
    assert abs(first.std() / np.sqrt(2 / 784) - 1) < 0.02 and abs(first.mean()) < 1e-3
    with pytest.raises(ValueError, match="at least two positive layer sizes"):
        mlp.init_mlp(jax.random.key(0), (784,))


def test_logits_loss_and_accuracy_equal_numpys(network):
    params, images, labels = network
    logits = numpy_forward(params, images)[-1]
    np.testing.assert_allclose(mlp.mlp_logits(params, images), logits, rtol=1e-12)
    loss, _ = numpy_loss_and_gradients(params, images, labels)
    np.testing.assert_allclose(mlp.loss(params, images, labels), loss, rtol=1e-12)
    expected = np.mean(np.argmax(logits, axis=1) == labels)
    assert float(mlp.accuracy(params, images, labels)) == expected


def test_train_step_is_one_gradient_step_then_the_loss_after_it(network):
    params, images, labels = network
    _, gradients = numpy_loss_and_gradients(params, images, labels)
    optimizer = sgd(0.1)
    new_params, _, loss_after = mlp.train_step(
        optimizer, params, optimizer.init(params), images, labels
    )
    expected = [
        {key: layer[key] - 0.1 * gradient[key] for key in layer}
        for layer, gradient in zip(params, gradients, strict=True)
    ]
    for ours, theirs in zip(new_params, expected, strict=True):
        for key in ("w", "b"):
            np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-12)
    after, _ = numpy_loss_and_gradients(expected, images, labels)
    np.testing.assert_allclose(loss_after, after, rtol=1e-12)


def test_batches_are_drawn_by_iteration_not_in_sequence():
    _, batch_key = mlp.seed_keys(0)
    first = mlp.batch_indices(batch_key, 5, 1000, 64)
    np.testing.assert_array_equal(first, mlp.batch_indices(batch_key, 5, 1000, 64))
    assert first.shape == (64,) and first.dtype == jnp.int32
    assert 0 <= int(first.min()) and int(first.max()) < 1000
    assert not np.array_equal(first, mlp.batch_indices(batch_key, 6, 1000, 64))
    _, other_key = mlp.seed_keys(1)
    assert not np.array_equal(first, mlp.batch_indices(other_key, 5, 1000, 64))


@pytest.mark.parametrize("seed", [-1, 2**32, True, 1.0, "0"])
def test_seeds_outside_32_bits_or_not_integers_are_refused(seed):
    with pytest.raises(ValueError, match=r"seed must be .*\[0, 2\*\*32\)"):
        mlp.check_seed(seed)


def test_seed_bounds_are_accepted():
    assert mlp.check_seed(np.int64(2**32 - 1)) == 2**32 - 1 and mlp.check_seed(0) == 0


def test_sizes_are_checked():
    assert mlp.check_sizes([784, "10"]) == (784, 10)
    for bad in ([784], [784, 0], None, ["a", 10]):
        with pytest.raises(ValueError, match="sizes must be"):
            mlp.check_sizes(bad)


def small_data(**changes) -> MnistData:
    data = MnistData(
        np.zeros((4, 6), np.float32), np.array([0, 1, 2, 0]),
        np.zeros((2, 6), np.float32), np.array([1, 2]),
    )  # fmt: skip
    return data._replace(**changes)


def test_data_is_converted_and_checked_as_the_loader_checks_files():
    arrays = mlp.check_data(small_data(), SIZES[:1] + (3,), np.float64)
    assert [array.dtype for array in arrays] == [np.float64, np.int32] * 2
    sizes = (6, 3)
    cases = [
        (small_data(train_images=np.zeros((4, 5))), r"data.train_images has shape \(4, 5\)"),
        (small_data(test_images=np.zeros((0, 6))), "data.test_images is empty"),
        (small_data(train_labels=np.array([0, 1])), r"data.train_labels has shape \(2,\)"),
        (small_data(test_labels=np.array([0.0, 1.0])), "must be integers"),
        (small_data(test_labels=np.array([0, 3])), r"holds 3, outside 0..2"),
        (small_data(train_images=np.full((4, 6), np.nan)), "must hold finite numbers"),
    ]
    for data, message in cases:
        with pytest.raises(ValueError, match=message):
            mlp.check_data(data, sizes, np.float32)
    with pytest.raises(TypeError, match="must be an MnistData"):
        mlp.check_data((1, 2), sizes, np.float32)
