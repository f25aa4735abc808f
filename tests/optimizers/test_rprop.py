"""Rprop: torch's algorithm, and what optax's one-step lag is."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_lab


def updates_of(optimizer, gradients, params):
    state = optimizer.init(params)
    updates = []
    for grad in gradients:
        update, state = optimizer.update(grad, state, params)
        updates.append(np.asarray(update))
    return updates


def test_optax_returns_the_update_of_the_step_before(x64):
    # The documented difference, measured: optax's k-th update is the lab's (k-1)-th.
    rng = np.random.default_rng(0)
    params = jnp.zeros(5)
    gradients = [jnp.asarray(rng.standard_normal(5)) for _ in range(20)]
    lab = updates_of(jaxopt_lab.rprop(0.1), gradients, params)
    other = updates_of(optax.rprop(0.1), gradients, params)
    np.testing.assert_array_equal(other[0], 0.0)
    kept = 0
    for k in range(1, 20):
        # optax zeroes a lagged update whose sign flipped this step; elsewhere it is exact.
        keep = other[k] != 0
        np.testing.assert_allclose(other[k][keep], lab[k - 1][keep], rtol=1e-15)
        kept += keep.sum()
    assert kept > 0.3 * 19 * 5  # most lagged updates survive, and equal the lab's


def test_constant_gradient_grows_the_step_by_eta_plus():
    # torch's numbers for a constant gradient 1 from lr 0.1: -0.1, -0.12, -0.144, ...
    updates = updates_of(jaxopt_lab.rprop(0.1), [jnp.ones(1)] * 4, jnp.zeros(1))
    np.testing.assert_allclose(np.concatenate(updates), -0.1 * 1.2 ** np.arange(4), rtol=1e-6)


def test_a_sign_change_shrinks_the_step_and_skips_the_update():
    updates = updates_of(
        jaxopt_lab.rprop(0.1), [jnp.ones(1), -jnp.ones(1), -jnp.ones(1)], jnp.zeros(1)
    )
    np.testing.assert_allclose(np.concatenate(updates), [-0.1, 0.0, 0.05], rtol=1e-6)


def test_complex_params_need_the_torch_convention():
    with pytest.raises(TypeError, match=r"\['w'\] is complex.*rprop.*complex_convention='torch'"):
        jaxopt_lab.rprop().init({"w": jnp.ones(2, jnp.complex64)})
    jaxopt_lab.rprop(complex_convention="torch").init({"w": jnp.ones(2, jnp.complex64)})


def test_step_size_bounds_are_checked():
    with pytest.raises(ValueError, match="min_step_size must be <= max_step_size"):
        jaxopt_lab.rprop(min_step_size=1.0, max_step_size=0.1)
    with pytest.raises(ValueError, match="eta_plus must be > 1.0"):
        jaxopt_lab.rprop(eta_plus=1.0)
