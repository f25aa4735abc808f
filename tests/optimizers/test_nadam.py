"""NAdam's momentum schedules and RAdam's warm-up, against their formulas."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_lab
from jaxopt_lab.optimizers.nadam import _momentum


def test_momentum_schedules_are_torch_s_and_keras_s(x64, torch, keras):
    # mu_t = b1 (1 - 0.5 * 0.96**(t * psi)): torch psi = 0.004, Keras psi = 1 (0.96**t).
    # Each library keeps the running product of its mu_t in its state: after 300 steps it
    # must be the product of the lab's schedule (float64 in both; 1e-13: 300 roundings).
    steps = 300
    t = jnp.arange(1.0, steps + 1)
    torch_product = np.prod(np.asarray(_momentum(0.9, 0.004, t)))
    keras_product = np.prod(np.asarray(_momentum(0.9, 1.0, t)))

    weight = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    nadam = torch.optim.NAdam([weight])  # momentum_decay=0.004 by default
    for _ in range(steps):
        weight.grad = torch.ones_like(weight)
        nadam.step()
    assert float(nadam.state[weight]["mu_product"]) == pytest.approx(torch_product, rel=1e-13)

    variable = keras.Variable(np.zeros(3), dtype="float64")
    keras_nadam = keras.optimizers.Nadam()
    for _ in range(steps):
        keras_nadam.apply_gradients([(keras.ops.ones(3, dtype="float64"), variable)])
    # Keras's product is a float32 variable: float32 rounding over 300 steps.
    assert float(keras_nadam._u_product) == pytest.approx(keras_product, rel=1e-4)
    assert keras_product > 10 * torch_product  # the two schedules are not one


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
