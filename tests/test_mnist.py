"""The MLP, the side-by-side comparison and the sweep, against the tutorial's NumPy code."""

from __future__ import annotations

import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxopt_lab
from jaxopt_lab import mnist, reference
from jaxopt_lab.data import MnistData, load_mnist

SMALL_SIZES = (20, 16, 16, 3)


def synthetic_data(n_train=256, n_test=64, features=20, classes=3, seed=0) -> MnistData:
    """Images in [0, 1] whose labels a linear teacher assigns: learnable, and fast."""
    rng = np.random.default_rng(seed)
    teacher = rng.normal(size=(features, classes))
    images = rng.uniform(size=(n_train + n_test, features)).astype(np.float32)
    labels = np.argmax((images - 0.5) @ teacher, axis=1).astype(np.int32)
    return MnistData(images[:n_train], labels[:n_train], images[n_train:], labels[n_train:])


# ----------------------------------------------------------------- the tutorial's net in NumPy


def numpy_forward(params, images):
    """The tutorial's MultiLayerNet forward pass (Affine, ReLU, ..., Affine), with activations."""
    activations = [images]
    for index, layer in enumerate(params):
        out = activations[-1] @ layer["w"] + layer["b"]
        activations.append(np.maximum(out, 0) if index < len(params) - 1 else out)
    return activations


def numpy_loss_and_grads(params, images, labels):
    """Softmax cross-entropy and the tutorial's backward pass ((softmax - onehot) / batch, ...)."""
    activations = numpy_forward(params, images)
    logits = activations[-1]
    shifted = logits - logits.max(axis=1, keepdims=True)
    probabilities = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    batch = len(labels)
    loss = -np.mean(np.log(probabilities[np.arange(batch), labels]))
    delta = probabilities.copy()
    delta[np.arange(batch), labels] -= 1
    delta /= batch
    grads = [None] * len(params)
    for index in reversed(range(len(params))):
        grads[index] = {"w": activations[index].T @ delta, "b": delta.sum(axis=0)}
        if index > 0:
            delta = (delta @ params[index]["w"].T) * (activations[index] > 0)
    return loss, grads


def to_numpy(params):
    return [{key: np.array(value, np.float64) for key, value in layer.items()} for layer in params]


# --------------------------------------------------------------------------- model


def test_init_mlp_is_he_initialisation():
    params = mnist.init_mlp(jax.random.key(0))
    assert [layer["w"].shape for layer in params] == [
        (784, 100),
        (100, 100),
        (100, 100),
        (100, 100),
        (100, 10),
    ]
    assert all(layer["w"].dtype == jnp.float32 for layer in params)
    assert all(np.all(np.asarray(layer["b"]) == 0) for layer in params)
    # He: std sqrt(2 / fan_in). 78,400 samples estimate a std to ~0.3% (1/sqrt(2n)); allow 2%.
    first = np.asarray(params[0]["w"], np.float64)
    assert abs(first.std() / np.sqrt(2 / 784) - 1) < 0.02
    assert abs(first.mean()) < 0.01 * np.sqrt(2 / 784) * 10


def test_init_mlp_rejects_bad_sizes():
    with pytest.raises(ValueError, match="sizes"):
        mnist.init_mlp(jax.random.key(0), sizes=(784,))
    with pytest.raises(ValueError, match="sizes"):
        mnist.init_mlp(jax.random.key(0), sizes=(784, 0, 10))


def test_loss_grad_and_accuracy_match_the_seeds_backprop(x64):
    data = synthetic_data()
    params = mnist.init_mlp(jax.random.key(1), SMALL_SIZES, jnp.float64)
    images = np.asarray(data.train_images[:50], np.float64)
    labels = data.train_labels[:50]
    expected_loss, expected_grads = numpy_loss_and_grads(to_numpy(params), images, labels)
    loss, grads = jax.value_and_grad(mnist.loss)(params, jnp.asarray(images), jnp.asarray(labels))
    # float64 both sides, same formulas up to summation order: agreement to ~1e-15 relative.
    np.testing.assert_allclose(float(loss), expected_loss, rtol=1e-12)
    for got, want in zip(grads, expected_grads, strict=True):
        np.testing.assert_allclose(np.asarray(got["w"]), want["w"], rtol=1e-9, atol=1e-14)
        np.testing.assert_allclose(np.asarray(got["b"]), want["b"], rtol=1e-9, atol=1e-14)
    logits = numpy_forward(to_numpy(params), images)[-1]
    expected_accuracy = np.mean(np.argmax(logits, axis=1) == labels)
    # accuracy is a float32 mean of 50 booleans: exact to float32 rounding of k / 50.
    got_accuracy = float(mnist.accuracy(params, jnp.asarray(images), jnp.asarray(labels)))
    assert got_accuracy == pytest.approx(expected_accuracy, abs=1e-6)


# --------------------------------------------------------------------------- compare


SEED_OPTIMIZERS = {
    "sgd": (lambda: jaxopt_lab.sgd(0.1), lambda: reference.SGD(0.1)),
    "momentum": (lambda: jaxopt_lab.momentum(0.05, 0.9), lambda: reference.Momentum(0.05, 0.9)),
    "adagrad": (lambda: jaxopt_lab.adagrad(0.05), lambda: reference.AdaGrad(0.05)),
    "adam": (lambda: jaxopt_lab.adam(0.01), lambda: reference.Adam(0.01)),
}


def test_compare_reproduces_the_seeds_numpy_experiment(x64):
    """compare() against the tutorial's loop: NumPy backprop and its optimizer classes."""
    data = synthetic_data()
    iterations, batch_size, seed = 40, 32, 3
    result = mnist.compare(
        {name: make() for name, (make, _) in SEED_OPTIMIZERS.items()},
        data,
        iterations,
        batch_size,
        seed,
        sizes=SMALL_SIZES,
        dtype=jnp.float64,
        chunk_size=16,
    )
    init_key, batch_key = mnist.seed_keys(seed)
    initial = to_numpy(mnist.init_mlp(init_key, SMALL_SIZES, jnp.float64))
    networks = {name: to_numpy(initial) for name in SEED_OPTIMIZERS}  # copies: updated in place
    # The tutorial's optimizers update a flat dict of arrays: W1, b1, W2, ...
    flat = {name: {} for name in SEED_OPTIMIZERS}
    optimizers = {name: make_reference() for name, (_, make_reference) in SEED_OPTIMIZERS.items()}
    train_images = np.asarray(data.train_images, np.float64)
    expected = np.zeros((len(SEED_OPTIMIZERS), iterations))
    for iteration in range(iterations):
        batch = np.asarray(mnist.batch_indices(batch_key, iteration, len(train_images), batch_size))
        images, labels = train_images[batch], data.train_labels[batch]
        for row, name in enumerate(SEED_OPTIMIZERS):
            _, grads = numpy_loss_and_grads(networks[name], images, labels)
            for index, layer in enumerate(networks[name]):
                flat[name][f"W{index}"], flat[name][f"b{index}"] = layer["w"], layer["b"]
            flat_grads = {}
            for index, grad in enumerate(grads):
                flat_grads[f"W{index}"], flat_grads[f"b{index}"] = grad["w"], grad["b"]
            optimizers[name].update(flat[name], flat_grads)  # in place, as the tutorial does
            expected[row, iteration], _ = numpy_loss_and_grads(networks[name], images, labels)
    assert result.names == tuple(SEED_OPTIMIZERS)
    # float64 on both sides; only summation order differs, amplified a little by 40 steps.
    np.testing.assert_allclose(result.losses, expected, rtol=1e-9)
    assert result.diverged == {}
    assert result.carry.iteration == iterations


def _small_compare(**kwargs):
    arguments = dict(
        optimizers={"sgd": jaxopt_lab.sgd(0.1), "adam": jaxopt_lab.adam(0.01)},
        data=synthetic_data(),
        iterations=30,
        batch_size=16,
        seed=0,
        sizes=SMALL_SIZES,
        chunk_size=10,
    )
    arguments.update(kwargs)
    return mnist.compare(**arguments)


def test_compare_same_seed_same_numbers_bit_for_bit():
    first, second = _small_compare(), _small_compare()
    np.testing.assert_array_equal(first.losses, second.losses)
    np.testing.assert_array_equal(first.test_accuracy, second.test_accuracy)
    other = _small_compare(seed=1)
    assert not np.array_equal(first.losses, other.losses)


def test_compare_networks_share_weights_and_batches():
    """The same optimizer under two names must trace the same curve, bit for bit."""
    result = _small_compare(optimizers={"a": jaxopt_lab.adam(0.01), "b": jaxopt_lab.adam(0.01)})
    np.testing.assert_array_equal(result.loss_of("a"), result.loss_of("b"))
    assert result.losses.shape == (2, 30) and result.losses.dtype == np.float32


def test_compare_resumes_bit_for_bit_from_a_carry():
    saved = []
    full = _small_compare(on_chunk=saved.append)
    assert [int(carry.iteration) for carry in saved] == [10, 20, 30]
    # Round-trip the carry through NumPy, as a checkpoint file would.
    carry = jax.tree.map(np.asarray, saved[1])
    resumed = _small_compare(start=carry)
    np.testing.assert_array_equal(resumed.losses, full.losses)
    np.testing.assert_array_equal(resumed.test_accuracy, full.test_accuracy)


def test_compare_reports_a_diverging_optimizer_and_keeps_the_others():
    result = _small_compare(optimizers={"sgd": jaxopt_lab.sgd(0.1), "wild": jaxopt_lab.sgd(1e30)})
    alone = _small_compare(optimizers={"sgd": jaxopt_lab.sgd(0.1)})
    assert set(result.diverged) == {"wild"}
    first_bad = result.diverged["wild"]
    assert 0 <= first_bad < 30
    assert np.all(np.isfinite(result.loss_of("wild")[:first_bad]))
    assert not np.isfinite(result.loss_of("wild")[first_bad])
    assert np.isnan(result.test_accuracy[1]) and np.isfinite(result.test_accuracy[0])
    # The healthy network is unaffected (another compiled program: allow float32 rounding).
    np.testing.assert_allclose(result.loss_of("sgd"), alone.loss_of("sgd"), rtol=1e-6)


def test_compare_rejects_bad_arguments():
    with pytest.raises(ValueError, match="optimizers"):
        _small_compare(optimizers={})
    with pytest.raises(TypeError, match=r"optimizers\['x'\]"):
        _small_compare(optimizers={"x": 0.1})
    with pytest.raises(ValueError, match="iterations"):
        _small_compare(iterations=0)
    with pytest.raises(ValueError, match="batch_size"):
        _small_compare(batch_size=-1)
    with pytest.raises(ValueError, match=r"sizes\[0\]"):
        _small_compare(sizes=(784, 10))
    carry = mnist.initial_carry({"sgd": jaxopt_lab.sgd()}, 30, sizes=SMALL_SIZES)
    with pytest.raises(ValueError, match=r"start\.losses"):
        _small_compare(start=carry)


def test_compare_validates_hand_built_data_as_the_file_loader_does():
    """Each of these trained silently before (or failed deep inside JAX)."""
    good = synthetic_data()
    cases = {
        "labels shorter than images": (
            good._replace(train_labels=good.train_labels[:-5]),
            r"train_labels has shape \(251,\)",
        ),
        "label -1": (
            good._replace(train_labels=np.where(np.arange(256) == 3, -1, good.train_labels)),
            r"holds -1, outside 0\.\.2",
        ),
        "label 42": (
            good._replace(test_labels=np.full(64, 42)),
            r"test_labels holds 42, outside 0\.\.2",
        ),
        "empty train set": (
            good._replace(train_images=good.train_images[:0], train_labels=good.train_labels[:0]),
            "train_images is empty",
        ),
        "float labels": (
            good._replace(train_labels=good.train_labels.astype(np.float32)),
            "must be integers",
        ),
        "NaN pixels": (
            good._replace(test_images=np.full_like(good.test_images, np.nan)),
            "finite numbers",
        ),
    }
    for case, (data, message) in cases.items():
        with pytest.raises(ValueError, match=message):
            _small_compare(data=data)
        assert case


def test_compare_refuses_a_carry_from_other_optimizers():
    """An SGD carry has another state structure than Adam's: refused, not trained on."""
    sgd_carry = mnist.initial_carry({"x": jaxopt_lab.sgd()}, 30, sizes=SMALL_SIZES)
    with pytest.raises(ValueError, match="structure of this run's carry"):
        _small_compare(optimizers={"x": jaxopt_lab.adam(0.01)}, start=sgd_carry)
    wider = mnist.initial_carry({"x": jaxopt_lab.adam()}, 30, sizes=(20, 32, 16, 3))
    with pytest.raises(ValueError, match=r"start\.params\[0\]\[0\]\['b'\] has shape"):
        _small_compare(optimizers={"x": jaxopt_lab.adam(0.01)}, start=wider)


def test_seeds_outside_32_bits_are_refused_not_wrapped():
    """jax.random.key keeps 32 bits: seed 2**32 would train seed 0's network."""
    np.testing.assert_array_equal(
        jax.random.key_data(jax.random.key(2**32)), jax.random.key_data(jax.random.key(0))
    )
    for seed in (2**32, -1, 1e20, 0.5):
        with pytest.raises(ValueError, match=r"seed must be"):
            _small_compare(seed=seed)
    assert _small_compare(seed=2**32 - 1).losses.shape == (2, 30)


# --------------------------------------------------------------------------- sweep


def test_sweep_points_equal_single_compare_runs():
    data = synthetic_data()
    learning_rates, seeds = [0.01, 0.1], [0, 5]
    result = mnist.sweep(
        jaxopt_lab.momentum,
        {"learning_rate": learning_rates},
        data,
        25,
        16,
        seeds=seeds,
        sizes=SMALL_SIZES,
        final_window=10,
    )
    assert result.losses.shape == (2, 2, 25) and result.test_accuracy.shape == (2, 2)
    np.testing.assert_allclose(result.final_loss, result.losses[..., -10:].mean(-1), rtol=1e-6)
    for j, seed in enumerate(seeds):  # one compare per seed trains every learning rate
        single = mnist.compare(
            {str(lr): jaxopt_lab.momentum(lr) for lr in learning_rates},
            data,
            25,
            16,
            seed,
            sizes=SMALL_SIZES,
        )
        # Same weights and batches; batched (vmap) and single matmuls may round
        # differently in float32, and 25 steps amplify it slightly.
        np.testing.assert_allclose(result.losses[:, j], single.losses, rtol=2e-5)
        np.testing.assert_allclose(result.test_accuracy[:, j], single.test_accuracy, atol=1 / 64)


def test_sweep_rejects_bad_arguments():
    data = synthetic_data()
    with pytest.raises(ValueError, match="learning_rate must be >= 0"):
        mnist.sweep(jaxopt_lab.sgd, {"learning_rate": [-1.0]}, data, 5, sizes=SMALL_SIZES)
    with pytest.raises(ValueError, match="seeds"):
        mnist.sweep(
            jaxopt_lab.sgd, {"learning_rate": [0.1]}, data, 5, seeds=[0.5], sizes=SMALL_SIZES
        )
    with pytest.raises(ValueError, match=r"seeds must be in \[0, 2\*\*32\)"):
        mnist.sweep(
            jaxopt_lab.sgd, {"learning_rate": [0.1]}, data, 5, seeds=[2**32], sizes=SMALL_SIZES
        )
    with pytest.raises(ValueError, match="iterations"):
        mnist.sweep(jaxopt_lab.sgd, {"learning_rate": [0.1]}, data, 0, sizes=SMALL_SIZES)
    with pytest.raises(ValueError, match="unknown hyperparameter 'b1'"):
        mnist.sweep(jaxopt_lab.sgd, {"b1": [0.9]}, data, 5, sizes=SMALL_SIZES)


SHARDED_SCRIPT = textwrap.dedent(
    """
    import json, jax, numpy as np, jaxopt_lab
    from jaxopt_lab import mnist
    from tests.test_mnist import synthetic_data, SMALL_SIZES
    data = synthetic_data()
    args = (jaxopt_lab.adam, {"learning_rate": [1e-3, 1e-2, 3e-2]}, data, 20, 16)
    sharded = mnist.sweep(*args, seeds=[0, 1], sizes=SMALL_SIZES)
    single = mnist.sweep(*args, seeds=[0, 1], sizes=SMALL_SIZES, devices=jax.devices()[:1])
    print(json.dumps({
        "devices": sharded.device_count,
        "sharded": sharded.losses.tolist(), "single": single.losses.tolist(),
        "acc_sharded": sharded.test_accuracy.tolist(), "acc_single": single.test_accuracy.tolist(),
    }))
    """
)


@pytest.mark.slow
def test_sweep_sharded_over_four_devices_equals_one_device(forced_cpu_devices):
    result = forced_cpu_devices.run(SHARDED_SCRIPT)
    assert result["devices"] == 4  # 6 points padded to 8, 2 per device
    # Each device vmaps 2 points instead of 6: same math, possibly other rounding.
    np.testing.assert_allclose(result["sharded"], result["single"], rtol=1e-5)
    np.testing.assert_allclose(result["acc_sharded"], result["acc_single"], atol=1 / 64)


# --------------------------------------------------------------------------- smoothing


def test_smooth_curve_is_a_normalised_symmetric_window():
    constant = np.full(50, 0.7)
    np.testing.assert_allclose(mnist.smooth_curve(constant), constant, rtol=1e-14)
    line = np.arange(60, dtype=np.float64)
    smoothed = mnist.smooth_curve(line)
    assert smoothed.shape == line.shape
    # A symmetric normalised window leaves a straight line unchanged away from the ends.
    np.testing.assert_allclose(smoothed[5:-5], line[5:-5], rtol=1e-12)
    # It averages: a single spike is spread over 11 points and lowered.
    spike = np.zeros(40)
    spike[20] = 1.0
    smoothed = mnist.smooth_curve(spike)
    assert np.count_nonzero(smoothed > 1e-12) == 11 and smoothed.max() < 0.2
    np.testing.assert_allclose(smoothed.sum(), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(mnist.smooth_curve([1.0, 2.0]), [1.0, 2.0])
    with pytest.raises(ValueError, match="one-dimensional"):
        mnist.smooth_curve(np.zeros((3, 20)))


# --------------------------------------------------------------------------- the tutorial's result


@pytest.mark.slow
def test_seed_defaults_on_real_mnist_give_the_seeds_order_and_ranges(mnist_dir):
    """The tutorial's experiment: 2000 iterations, its defaults; ~10-25 s on 2 CPU cores."""
    result = mnist.compare(
        {
            "sgd": jaxopt_lab.sgd(0.01),
            "momentum": jaxopt_lab.momentum(0.01, 0.9),
            "adagrad": jaxopt_lab.adagrad(0.01),
            "adam": jaxopt_lab.adam(0.001, 0.9, 0.999),
        },
        load_mnist("idx", mnist_dir),
    )
    final = dict(zip(result.names, result.losses[:, -100:].mean(axis=1), strict=True))
    # The tutorial's figure: SGD ~0.2, Momentum ~0.06-0.1, AdaGrad and Adam ~0.03. Seeds 0 and 1
    # gave 0.217/0.069/0.033/0.042 and 0.204/0.060/0.028/0.040; the bounds leave room for
    # other seeds and platforms.
    assert 0.12 < final["sgd"] < 0.35
    assert 0.035 < final["momentum"] < 0.13
    assert 0.01 < final["adagrad"] < 0.06 and 0.01 < final["adam"] < 0.06
    assert final["sgd"] > final["momentum"] > max(final["adagrad"], final["adam"])
    assert np.all(result.test_accuracy > [0.9, 0.95, 0.95, 0.95])
