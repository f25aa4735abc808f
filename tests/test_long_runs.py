"""Long runs: a million Adam steps in one scan, a saturated step count.

The 2-D bowl is the seed's ``f(x, y) = x**2 / 20 + y**2`` from its start
``(-7, 2)`` with Adam at the seed's learning rate 0.3. The NumPy reference is
the seed's ``Adam`` class in float64. Tolerance: 1e-12 of the trajectory's
scale (|start| ~ 7), i.e. about 40 float64 ulps after 1,000 steps; measured:
1.2e-15 absolute. (Relative to each coordinate it is meaningless: the
trajectory crosses zero.)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
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
