"""Adafactor: its factored state, 3-D leaves, optax's default learning rate.

Adafactor against optax, torch.optim and Keras 3, row by row with its tolerance,
is the equivalence table's (tests/equivalences/); the notes below are what was
measured. This file checks what the table does not: which axes are factored,
3-D leaves against optax and torch, and optax's ``learning_rate=None``.

The params are a dense layer's (32, 64) kernel, a tall (64, 16) one, a
(144, 256) one (both dims >= 128: the only leaf optax factors by default) and a
(64,) bias. Tolerances, measured over 1000 steps of N(0, 1) gradients:

- same formula, rounded differently (optax, torch and Keras defaults): at most
  4.1 ulps of the leaf's scale in float32 (Keras's default is bit-identical),
  and 1.2e-15 relative in float64 against torch. Held to 8 ulps and 1e-12.
- torch and Keras apply weight decay as their own update of p
  (``p *= 1 - lr * wd``; ``p -= p * wd * lr``): 97 and 24 ulps after 1000 steps
  in float32, at most 0.85 a step; held to 1 ulp per step.
- optax computes the decay ``1 - t**-0.8`` in float32 whatever the params'
  dtype (``optax/_src/factorized.py``, ``_decay_rate_pow``), and Keras's
  ``ops.mean`` runs in float32 on float64 input (JAX backend): in float64 the two
  part from the lab by 5e-9 to 5e-8 relative. Documented: held between 1e-12 and
  1e-6.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_lab
from jaxopt_lab import crosscheck
from jaxopt_lab.optimizers.adafactor import factored_axes

STEPS = 150
SAME = {"ulps": 8}


def matrices(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "kernel": rng.standard_normal((32, 64)),
        "tall": rng.standard_normal((64, 16)),
        "big": rng.standard_normal((144, 256)),
        "bias": rng.standard_normal(64),
    }


@pytest.fixture(scope="module")
def problem():
    params = matrices()
    return params, crosscheck.random_gradients(params, STEPS, seed=1)


OPTAX_LAB = {
    "relative_step": False,
    "min_dim_size_to_factor": 128,
    "factored_dims": "two_largest",
    "decay_form": "unscaled",
}


def test_optax_default_learning_rate_steps_by_the_parameter_scale(problem):
    # optax.adafactor() has learning_rate=None: no step size at all, so each step
    # moves a leaf by its own rms (the lab's learning_rate=1 without the relative
    # step); on these gradients the params overflow float32 at step 115.
    params, gradients = problem
    lab = jaxopt_lab.adafactor(1.0, **OPTAX_LAB)
    crosscheck.assert_equivalent(
        lab, optax.adafactor(), params, gradients, 20, dtype=np.float32, **SAME
    )
    first = {key: g[0] for key, g in gradients.items()}
    updates, _ = optax.adafactor().update(first, optax.adafactor().init(params), params)
    for key, param in params.items():
        rms = np.sqrt(np.mean(np.square(param)))
        np.testing.assert_allclose(np.sqrt(np.mean(np.square(updates[key]))), rms, rtol=1e-4)


def test_state_is_factored_where_the_rule_says():
    params = {key: jnp.asarray(value, jnp.float32) for key, value in matrices().items()}
    state = jaxopt_lab.adafactor().init(params)  # every 2-D leaf, over its last two axes
    assert state.row_moment["kernel"].shape == (32,)
    assert state.column_moment["kernel"].shape == (64,)
    assert state.second_moment["kernel"].shape == (0,)
    assert state.second_moment["bias"].shape == (64,)
    assert state.row_moment["bias"].shape == (0,)
    optax_rule = jaxopt_lab.adafactor(min_dim_size_to_factor=128).init(params)
    assert optax_rule.second_moment["kernel"].shape == (32, 64)  # 32 < 128: not factored
    assert optax_rule.row_moment["big"].shape == (144,)
    assert optax_rule.column_moment["big"].shape == (256,)


def test_three_dimensional_leaves_factor_the_last_two_or_the_two_largest_axes():
    assert factored_axes((16, 4, 8), 0, "last_two") == (1, 2)
    assert factored_axes((16, 4, 8), 0, "two_largest") == (0, 2)
    assert factored_axes((16, 4, 8), 5, "two_largest") == (0, 2)
    assert factored_axes((16, 4, 8), 9, "two_largest") is None
    assert factored_axes((7,), 0, "last_two") is None


def test_three_dimensional_leaves_match_optax_and_torch(torch):
    rng = np.random.default_rng(3)
    params = {"conv": rng.standard_normal((16, 4, 8))}
    gradients = crosscheck.random_gradients(params, 50, seed=4)
    crosscheck.assert_equivalent(
        jaxopt_lab.adafactor(1e-2, **{**OPTAX_LAB, "min_dim_size_to_factor": 0}),
        optax.adafactor(1e-2, min_dim_size_to_factor=0),
        params,
        gradients,
        dtype=np.float32,
        **SAME,
    )
    crosscheck.assert_equivalent(
        jaxopt_lab.adafactor(eps1_as_floor=True),
        crosscheck.TorchAdapter(torch.optim.Adafactor),
        params,
        gradients,
        dtype=np.float64,
        rtol=1e-12,
    )


def test_wrong_state_shape_is_named():
    params = {"w": jnp.ones((4, 6))}
    optimizer = jaxopt_lab.adafactor()
    state = optimizer.init(params)
    with pytest.raises(ValueError, match=r"grads leaf at \['w'\] has shape \(6, 4\)"):
        optimizer.update({"w": jnp.ones((6, 4))}, state, {"w": jnp.ones((6, 4))})


def test_empty_leaves_stay_empty_and_finite():
    params = {"e": jnp.zeros((0, 4)), "w": jnp.ones((2, 3))}
    optimizer = jaxopt_lab.adafactor()
    updates, state = optimizer.update(params, optimizer.init(params), params)
    assert updates["e"].shape == (0, 4)
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(state))
