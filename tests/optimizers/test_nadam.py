"""NAdam's momentum schedules and RAdam's warm-up, against their formulas."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_lab
from jaxopt_lab.optimizers.nadam import _momentum


def test_momentum_schedules_of_torch_and_keras(x64):
    # mu_t = b1 (1 - 0.5 * 0.96**(t * psi)): torch psi = 0.004, Keras psi = 1 (0.96**t).
    t = jnp.asarray([1.0, 100.0, 1000.0])
    torch_schedule = np.asarray(_momentum(0.9, 0.004, t))
    keras_schedule = np.asarray(_momentum(0.9, 1.0, t))
    np.testing.assert_allclose(torch_schedule, 0.9 * (1 - 0.5 * 0.96 ** (t * 0.004)), rtol=1e-14)
    assert keras_schedule[1] == pytest.approx(0.892, abs=1e-3)  # ~0.89 by step 100
    assert torch_schedule[1] == pytest.approx(0.458, abs=1e-3)  # torch's is still ~0.46


def test_constant_momentum_is_optax_nadam(x64):
    params = jnp.linspace(-1.0, 1.0, 5)
    rng = np.random.default_rng(0)
    lab, other = jaxopt_lab.nadam(0.01, momentum_decay=None), optax.nadam(0.01)
    lab_state, other_state = lab.init(params), other.init(params)
    for _ in range(50):
        grad = jnp.asarray(rng.standard_normal(5))
        lab_update, lab_state = lab.update(grad, lab_state, params)
        other_update, other_state = other.update(grad, other_state, params)
        np.testing.assert_allclose(lab_update, other_update, rtol=1e-12)
    assert lab_state.momentum_product is None


def test_radam_is_momentum_alone_until_rho_passes_the_threshold(x64):
    # b2 = 0.999: rho_t <= 5 for t <= 5, so the first five steps are -lr * m_hat.
    optimizer = jaxopt_lab.radam(0.1)
    params = jnp.zeros(3)
    state = optimizer.init(params)
    grad = jnp.asarray([1.0, -2.0, 0.5])
    for step in range(1, 7):
        update, state = optimizer.update(grad, state, params)
        rho = 2 / (1 - 0.999) - 1 - 2 * step * 0.999**step / (1 - 0.999**step)
        if rho <= 5:
            np.testing.assert_allclose(update, -0.1 * grad, rtol=1e-12)  # m_hat = g here
        else:
            assert not np.allclose(update, -0.1 * grad, rtol=1e-3)
    assert step == 6 and rho > 5


def test_amsgrad_max_of_raw_or_corrected_part_once_the_maximum_holds(x64):
    params = jnp.zeros(1)
    grads = [jnp.ones(1) * 3.0] + [jnp.ones(1) * 0.1] * 10  # v falls after the first step
    raw, corrected = jaxopt_lab.amsgrad(0.01), jaxopt_lab.amsgrad(0.01, max_of="corrected")
    raw_state, corrected_state = raw.init(params), corrected.init(params)
    parted = []
    for grad in grads:
        raw_update, raw_state = raw.update(grad, raw_state, params)
        corrected_update, corrected_state = corrected.update(grad, corrected_state, params)
        parted.append(not np.allclose(raw_update, corrected_update, rtol=1e-12))
    assert not parted[0] and all(parted[1:])


def test_adadelta_descends_where_optax_default_climbs(x64):
    # optax adadelta() (learning_rate=None) scales nothing, not even the sign.
    loss = lambda p: jnp.sum(p**2)
    for optimizer, sign in ((jaxopt_lab.adadelta(), -1), (optax.adadelta(), 1)):
        params = jnp.asarray([2.0, -4.0])
        state = optimizer.init(params)
        update, _ = optimizer.update(2 * params, state, params)
        assert np.all(np.sign(update) == sign * np.sign(params))
        assert (loss(params + update) - loss(params)) * sign > 0
