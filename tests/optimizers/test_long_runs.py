"""Long runs: a million Adam steps in one scan, a saturated step count.

The 2-D bowl is the tutorial's ``f(x, y) = x**2 / 20 + y**2`` from its start
``(-7, 2)`` with Adam at the tutorial's learning rate 0.3. The NumPy reference is
the tutorial's ``Adam`` class in float64. Tolerance: 1e-12 of the trajectory's
scale (|start| ~ 7), i.e. about 40 float64 ulps after 1,000 steps; measured:
1.2e-15 absolute. (Relative to each coordinate it is meaningless: the
trajectory crosses zero.)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_lab
from jaxopt_lab import reference

START = (-7.0, 2.0)
LEARNING_RATE = 0.3
INT32_MAX = np.iinfo(np.int32).max


def bowl(position):
    return position[0] ** 2 / 20 + position[1] ** 2


def bowl_gradient(position):
    return np.array([position[0] / 10, 2 * position[1]])


def scan_adam(position, state, steps):
    """``steps`` Adam steps on the bowl in one ``lax.scan``: final (position, state), path."""
    optimizer = jaxopt_lab.adam(LEARNING_RATE)

    def step(carry, _):
        position, state = carry
        updates, state = optimizer.update(jax.grad(bowl)(position), state, position)
        position = jaxopt_lab.apply_updates(position, updates)
        return (position, state), (position, state.count)

    return jax.jit(lambda carry: jax.lax.scan(step, carry, None, length=steps))((position, state))


def reference_path(steps, first_iteration=0):
    optimizer = reference.Adam(lr=LEARNING_RATE)
    optimizer.iter = first_iteration
    params = {"p": np.array(START)}
    path = []
    for _ in range(steps):
        optimizer.update(params, {"p": bowl_gradient(params["p"])})
        path.append(params["p"].copy())
    return np.array(path)


def test_a_million_adam_steps_in_one_scan(x64):
    start = jnp.array(START, jnp.float64)
    (position, state), (path, counts) = scan_adam(start, jaxopt_lab.adam().init(start), 10**6)
    assert np.all(np.isfinite(path))
    assert np.all(np.isfinite(state.first_moment)) and np.all(np.isfinite(state.second_moment))
    assert int(state.count) == 10**6
    assert np.all(np.diff(np.asarray(counts)) == 1)
    assert bowl(position) < 1e-4 < bowl(start)  # measured: 2.0e-6
    np.testing.assert_allclose(path[:1000], reference_path(1000), rtol=0, atol=1e-12 * 7)


def test_a_million_float32_adam_steps_stay_finite():
    start = jnp.array(START, jnp.float32)
    (position, state), (path, _) = scan_adam(start, jaxopt_lab.adam().init(start), 10**6)
    assert path.dtype == jnp.float32
    assert np.all(np.isfinite(path)) and int(state.count) == 10**6
    assert bowl(position) < 1e-4


def test_step_count_saturates_at_int32_max_and_updates_stay_right(x64):
    """From count 2**31 - 500, 1,000 steps: the count stops at 2**31 - 1, never wraps.

    The updates keep following the reference (whose Python-int step keeps counting:
    at t ~ 2**31 both have b**t == 0 exactly in float64).
    """
    start = jnp.array(START, jnp.float64)
    first = INT32_MAX - 499
    state = jaxopt_lab.adam().init(start)._replace(count=jnp.int32(first))
    (_, state), (path, counts) = scan_adam(start, state, 1000)
    counts = np.asarray(counts)
    assert counts.dtype == np.int32
    assert int(state.count) == INT32_MAX
    assert np.all(counts >= first) and np.all(np.diff(counts) >= 0)
    assert np.all(counts[499:] == INT32_MAX)
    assert np.all(np.isfinite(path))
    np.testing.assert_allclose(path, reference_path(1000, first), rtol=0, atol=1e-12 * 7)


@pytest.mark.parametrize("name", sorted(jaxopt_lab.OPTIMIZERS))
def test_every_optimizer_count_saturates(name):
    optimizer = jaxopt_lab.OPTIMIZERS[name]()
    params = {"w": jnp.array([1.0, -2.0], jnp.float32)}
    state = optimizer.init(params)._replace(count=jnp.int32(INT32_MAX - 2))
    for _ in range(5):
        updates, state = optimizer.update(params, state, params)
        assert np.all(np.isfinite(updates["w"]))
    assert int(state.count) == INT32_MAX


# --------------------------------------------------------------------------- bfloat16


def test_bfloat16_state_stalls_the_moments_float32_state_does_not():
    """With a constant gradient 1, Adam's moments tend to 1 - b**t.

    In bfloat16 ``v += 0.001 * (g**2 - v)`` rounds away once the increment is
    below half a bfloat16 ulp of ``v``: v stops at 0.25 (exact: 0.632 after
    1,000 steps) and m at 0.984, so the step is 1.57x too large. Float32 state
    tracks the exact values to float32 precision.
    """
    params = {"w": jnp.ones((), jnp.bfloat16)}
    grads = {"w": jnp.ones((), jnp.bfloat16)}
    exact_second, exact_first = 1 - 0.999**1000, 1 - 0.9**1000
    results = {}
    for state_dtype in [None, jnp.float32]:
        optimizer = jaxopt_lab.adam(1e-3, state_dtype=state_dtype)
        step = jax.jit(lambda state, optimizer=optimizer: optimizer.update(grads, state, params))
        state = optimizer.init(params)
        for _ in range(1000):
            updates, state = step(state)
        results[state_dtype] = (state, float(updates["w"]))
    bf16_state, bf16_update = results[None]
    f32_state, f32_update = results[jnp.float32]
    assert float(bf16_state.second_moment["w"]) == 0.25
    assert float(bf16_state.first_moment["w"]) < 0.99
    assert float(f32_state.second_moment["w"]) == pytest.approx(exact_second, rel=1e-5)
    assert float(f32_state.first_moment["w"]) == pytest.approx(exact_first, rel=1e-5)
    assert f32_update == pytest.approx(-1e-3, rel=1e-2)  # bias-corrected m / sqrt(v) = 1
    assert bf16_update / f32_update > 1.5


def test_bfloat16_adam_bias_correction_does_not_round_to_zero():
    """0.999 is 1.0 in bfloat16: a correction computed there is 0 and Adam never moves.

    The lab computes the corrections in float32 (as optax does): the first
    bfloat16 step is optax's (about -lr * sign(g)), not 0.
    """
    assert jnp.bfloat16(0.999) == 1
    params = {"w": jnp.array([0.5, -0.25], jnp.bfloat16)}
    grads = {"w": jnp.array([0.125, 0.5], jnp.bfloat16)}
    for eps_hat in [True, False]:
        optimizer = jaxopt_lab.adam(1e-3, eps=1e-8, eps_hat=eps_hat)
        updates, _ = optimizer.update(grads, optimizer.init(params), params)
        expected, _ = optax.adam(1e-3).update(grads, optax.adam(1e-3).init(params), params)
        assert updates["w"].dtype == jnp.bfloat16
        # the operation orders differ: within 2 bfloat16 ulps (2 * 2**-8 relative)
        np.testing.assert_allclose(
            np.asarray(updates["w"], np.float32), np.asarray(expected["w"], np.float32), rtol=2**-7
        )


MNIST_ITERATIONS = 500
LOSS_MARGIN = 0.03  # mean train loss of the last 100 iterations; measured 0.005
ACCURACY_MARGIN = 0.01  # test accuracy; measured +0.001 (bfloat16 slightly ahead)


@pytest.mark.slow
def test_bfloat16_params_with_float32_state_train_mnist_like_float32(mnist_dir):
    """Adam(1e-3), batch 128, 500 iterations of the tutorial's MLP on real MNIST.

    Measured (CPU): last-100 mean train loss 0.126 (float32), 0.131 (bfloat16
    params, float32 state), 0.134 (bfloat16 params and state); test accuracy
    0.954, 0.955, 0.956. The bound is on bfloat16-params-with-float32-state vs
    float32. Pure bfloat16 state must also train (before its bias correction
    was computed in float32 it stayed at loss 2.36, accuracy 0.08).
    """
    from jaxopt_lab import data, mnist

    mnist_data = data.load_mnist("idx", mnist_dir)
    run = dict(iterations=MNIST_ITERATIONS, batch_size=128, seed=0, chunk_size=MNIST_ITERATIONS)
    float32 = mnist.compare({"adam": jaxopt_lab.adam(1e-3)}, mnist_data, dtype=jnp.float32, **run)
    bfloat16 = mnist.compare(
        {
            "float32 state": jaxopt_lab.adam(1e-3, state_dtype=jnp.float32),
            "bfloat16 state": jaxopt_lab.adam(1e-3),
        },
        mnist_data,
        dtype=jnp.bfloat16,
        **run,
    )

    def final_loss(result, name):
        return float(np.mean(np.asarray(result.loss_of(name), np.float64)[-100:]))

    def test_accuracy(result, name):
        return float(result.test_accuracy[result.names.index(name)])

    assert not float32.diverged and not bfloat16.diverged
    reference_loss = final_loss(float32, "adam")
    assert reference_loss < 0.2
    assert final_loss(bfloat16, "float32 state") <= reference_loss + LOSS_MARGIN
    assert abs(test_accuracy(bfloat16, "float32 state") - test_accuracy(float32, "adam")) <= (
        ACCURACY_MARGIN
    )
    assert final_loss(bfloat16, "bfloat16 state") < 0.2  # trains, does not stall at ~2.3
