"""Schedule-free AdamW: optax's lagged warmup, its evaluation params, its flat path.

Against optax.contrib and Keras 3 row by row, with its tolerances, is the
equivalence table's (tests/equivalences/). Here, what the table does not check:
the same formula rounded differently passes each step's rounding of y on to the
next (11 to 28 ulps of the leaf's scale after 1000 steps in float32, held to 64
ulps), and optax's warmup schedule
(``warmup_constant_schedule``) computes ``count / warmup_steps`` in float32
even for float64 params: 5.4e-9 relative, documented (held between 1e-12 and 1e-6).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_lab
from jaxopt_lab import crosscheck
from jaxopt_lab.equivalences import table_params

STEPS = 300


@pytest.fixture(scope="module")
def problem():
    params = table_params()
    return params, crosscheck.random_gradients(params, STEPS, seed=1)


OPTAX_LAB = {"eps_hat": False, "lagged_warmup": True}


def test_optax_warmup_lags_one_step_behind_its_weights(problem):
    params, gradients = problem
    other = optax.contrib.schedule_free_adamw(1e-2, 50)
    lagged = jaxopt_lab.schedule_free_adamw(1e-2, warmup_steps=50, **OPTAX_LAB)
    crosscheck.assert_equivalent(lagged, other, params, gradients, dtype=np.float32, ulps=64)
    result = crosscheck.compare(lagged, other, params, gradients, dtype=np.float64)
    assert 1e-12 < result.max_rel_error[-1] <= 1e-6  # optax's schedule is float32
    on_time = jaxopt_lab.schedule_free_adamw(1e-2, warmup_steps=50, eps_hat=False)
    result = crosscheck.compare(on_time, other, params, gradients, dtype=np.float32)
    assert result.max_rel_error[-1] > 1e-4


def test_eval_params_are_optax_eval_params(problem, x64):
    params, gradients = problem
    lab = jaxopt_lab.schedule_free_adamw(1e-2, 0.8, **OPTAX_LAB)
    other = optax.contrib.schedule_free_adamw(1e-2, b1=0.8)
    lab_params, other_params = dict(params), dict(params)
    lab_state, other_state = lab.init(lab_params), other.init(other_params)
    for step in range(20):
        grads = {key: g[step] for key, g in gradients.items()}
        updates, lab_state = lab.update(grads, lab_state, lab_params)
        lab_params = optax.apply_updates(lab_params, updates)
        updates, other_state = other.update(grads, other_state, other_params)
        other_params = optax.apply_updates(other_params, updates)
    ours = jaxopt_lab.schedule_free_eval_params(lab_state, lab_params)
    theirs = optax.contrib.schedule_free_eval_params(other_state, other_params)
    for key in params:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-13, atol=1e-13)
        assert not np.allclose(ours[key], lab_params[key])  # x is not y


def test_reference_form_folds_the_bias_correction_into_the_step():
    # eps_hat=True (the paper, the reference code): lr_t = lr * sqrt(1 - b2**t) and
    # g / (sqrt(v) + eps); on the first step v = (1 - b2) g**2, so z moves by
    # lr * sqrt(1 - b2) * g / (|g| sqrt(1 - b2) + eps).
    params = {"w": jnp.array([1.0, -2.0])}
    grads = {"w": jnp.array([0.5, -4.0])}
    optimizer = jaxopt_lab.schedule_free_adamw(0.1, b1=0.9, b2=0.99, eps=1e-8)
    updates, state = optimizer.update(grads, optimizer.init(params), params)
    g = np.array([0.5, -4.0])
    z = np.array([1.0, -2.0]) - 0.1 * np.sqrt(0.01) * g / (np.abs(g) * np.sqrt(0.01) + 1e-8)
    np.testing.assert_allclose(state.z["w"], z, rtol=1e-6)
    # c = 1 on the first step: x = z, y = 0.9 x + 0.1 z = z.
    np.testing.assert_allclose(params["w"] + updates["w"], z, rtol=1e-6)


def test_b1_must_be_positive():
    with pytest.raises(ValueError, match="b1"):
        jaxopt_lab.schedule_free_adamw(b1=0.0)


def test_eval_params_need_a_schedule_free_state():
    with pytest.raises(TypeError, match="ScheduleFreeState"):
        jaxopt_lab.schedule_free_eval_params(jaxopt_lab.adam().init({"w": jnp.ones(2)}), {})


def test_scalar_state_is_one_number_per_leaf():
    params = {"w": jnp.ones((3, 2)), "b": jnp.ones(2)}
    state = jaxopt_lab.schedule_free_adamw().init(params)
    assert all(leaf.shape == () for leaf in jax.tree.leaves(state.weight_sum))
    assert state.z["w"].shape == (3, 2)


def test_flat_path_equals_the_pytree_path():
    # Elementwise, with per-leaf scalars that are the same in every leaf: one on a flat vector.
    from jaxopt_lab import flat

    params = {"w": jnp.linspace(-1.0, 1.0, 12).reshape(3, 4), "b": jnp.linspace(0.5, -0.5, 4)}
    optimizer = jaxopt_lab.schedule_free_adamw(0.01, weight_decay=0.1, warmup_steps=3)
    wrapped = flat.flatten(optimizer)
    tree_params, tree_state = params, optimizer.init(params)
    flat_params, flat_state = params, wrapped.init(params)
    rng = np.random.default_rng(3)
    for _ in range(6):
        grads = jax.tree.map(lambda p: jnp.asarray(rng.standard_normal(p.shape), p.dtype), params)
        updates, tree_state = optimizer.update(grads, tree_state, tree_params)
        tree_params = optax.apply_updates(tree_params, updates)
        updates, flat_state = wrapped.update(grads, flat_state, flat_params)
        flat_params = optax.apply_updates(flat_params, updates)
    for key in params:
        np.testing.assert_allclose(flat_params[key], tree_params[key], rtol=2e-7, atol=2e-7)
