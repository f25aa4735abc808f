"""Muon: its Newton-Schulz iteration against optax and torch's bfloat16 one, its layouts.

Muon against optax.contrib and Keras 3, row by row with its tolerance, is the
equivalence table's (tests/equivalences/); the notes below are what the table's
rows measured. This file checks what the table does not: the iteration itself,
torch's bfloat16 rounding, the fan-out axis, the non-matrix leaves.

The params are a (32, 64) kernel, a tall (64, 16) one and a (64,) bias (which
optax and Keras step with their inner AdamW; torch refuses it, so torch sees the
two matrices only). Tolerances, measured over 1000 steps of N(0, 1) gradients:

- optax: same formula, rounded differently: 2.8 ulps of the leaf's scale in
  float32 (non-default), 9e-16 relative in float64; held to 16 ulps and 1e-12.
  At the defaults the bias's AdamW (lr 0.02) sees optax's float32 ``1 - b**t``
  against the lab's accurate one: 33 ulps after 1000 steps, 0.76 a step at
  most; held to 1 ulp a step.
- Keras without weight decay: 4.6 ulps in float32 (held to 16). Keras applies its
  default weight decay (0.004) as its own update of p: 332 ulps after 1000 steps,
  0.85 a step at most (held to 1 ulp a step). In float64 Keras's ``ops.norm``
  runs in float32 (JAX backend): 1.7e-9 to 2.3e-8 relative, documented (held
  between 1e-12 and 1e-6).
- torch runs the iteration in bfloat16 whatever the params' dtype. With
  ``ns_dtype=jnp.bfloat16`` the lab rounds each operation as torch does (often
  bit-identical), but float32 matrix products sum in a different order in XLA and
  in torch, and a difference of one float32 ulp flips a bfloat16 rounding now and
  then: 1.3e-5 to 1.9e-5 relative after 1000 steps (3.6e-4 at lr 0.02), against
  1.4e-4 with the iteration in the params' dtype. Documented: held to 1e-4 (at
  lr 1e-3), and to at least 5 times closer than the params'-dtype iteration.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_lab
from jaxopt_lab import crosscheck
from jaxopt_lab.optimizers.muon import NS_COEFFICIENTS, orthogonalize

STEPS = 200


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    params = {
        "kernel": rng.standard_normal((32, 64)),
        "tall": rng.standard_normal((64, 16)),
        "bias": rng.standard_normal(64),
    }
    return params, crosscheck.random_gradients(params, STEPS, seed=1)


@pytest.fixture(scope="module")
def matrix_problem(problem):
    return tuple({key: tree[key] for key in ("kernel", "tall")} for tree in problem)


def torch_lab(**settings):
    return jaxopt_lab.muon(
        1e-3, 0.95, 0.1, eps_as_floor=True, layout="out_in", non_matrix="raise", **settings
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_muon_follows_torch_to_its_bfloat16_iteration(matrix_problem, torch, dtype):
    params, gradients = matrix_problem
    other = crosscheck.TorchAdapter(torch.optim.Muon)
    steps = 60  # torch's bfloat16 products are slow on a CPU
    rounded = crosscheck.compare(
        torch_lab(ns_dtype=jnp.bfloat16), other, params, gradients, steps, dtype=dtype
    )
    exact = crosscheck.compare(torch_lab(), other, params, gradients, steps, dtype=dtype)
    assert rounded.first_nonfinite_step is None
    assert rounded.max_rel_error[-1] <= 1e-4
    assert rounded.max_rel_error[-1] * 5 <= exact.max_rel_error[-1]


def test_torch_refuses_what_the_lab_refuses_with_non_matrix_raise(problem, torch):
    params, _ = problem
    with pytest.raises(ValueError, match="2D parameters"):
        torch.optim.Muon([torch.zeros(3)])
    with pytest.raises(ValueError, match=r"params leaf at \['bias'\] has shape \(64,\)"):
        torch_lab().init(params)


@pytest.mark.parametrize("shape", [(32, 64), (64, 16), (8, 8)])
def test_orthogonalize_agrees_with_optax(shape):
    x = jnp.asarray(np.random.default_rng(5).standard_normal(shape), jnp.float32)
    ours = orthogonalize(x, eps=1e-8)
    theirs = optax.contrib._muon.orthogonalize_via_newton_schulz(x, jnp.asarray(NS_COEFFICIENTS))
    # float32 rounding, amplified by the iteration's large coefficients (measured: 2e-6)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5 * float(jnp.max(jnp.abs(theirs))))
    singular_values = np.linalg.svd(np.asarray(ours), compute_uv=False)
    assert np.all((singular_values > 0.5) & (singular_values < 1.5))


@pytest.mark.parametrize("shape", [(32, 64), (64, 16), (144, 256)])
def test_bfloat16_iteration_rounds_as_torch_does(torch, shape):
    from torch.optim._muon import _zeropower_via_newtonschulz

    x = np.random.default_rng(6).standard_normal(shape).astype(np.float32)
    theirs = _zeropower_via_newtonschulz(torch.tensor(x), NS_COEFFICIENTS, 5, 1e-7).float()
    scale = float(theirs.abs().max())
    rounded = jax.jit(lambda x: orthogonalize(x, eps_as_floor=True, dtype=jnp.bfloat16))
    error = np.max(np.abs(np.asarray(rounded(jnp.asarray(x))) - theirs.numpy())) / scale
    in_float32 = np.max(np.abs(np.asarray(orthogonalize(jnp.asarray(x))) - theirs.numpy()))
    assert error <= 2**-6  # a few bfloat16 roundings at most (measured: 0 to 0.013)
    assert in_float32 / scale > error


def test_layout_decides_which_axis_is_fan_out():
    params = {"w": jnp.ones((64, 16))}
    grads = {"w": jnp.asarray(np.random.default_rng(7).standard_normal((64, 16)))}
    flax = jaxopt_lab.muon()  # [fan_in, fan_out] = [64, 16]: scale sqrt(max(1, 16/64)) = 1
    torch_layout = jaxopt_lab.muon(layout="out_in")  # [fan_out, fan_in]: scale 2
    flax_step, _ = flax.update(grads, flax.init(params), params)
    torch_step, _ = torch_layout.update(grads, torch_layout.init(params), params)
    np.testing.assert_allclose(torch_step["w"], 2 * flax_step["w"], rtol=1e-6)


def test_non_matrix_leaves_get_a_second_moment_and_matrices_do_not():
    params = {"w": jnp.ones((4, 6)), "b": jnp.ones(6), "s": jnp.ones(())}
    state = jaxopt_lab.muon().init(params)
    assert state.second_moment["w"].shape == (0,)
    assert state.second_moment["b"].shape == (6,)
    assert state.second_moment["s"].shape == ()
    assert state.momentum["w"].shape == (4, 6)


def test_muon_rejects_bad_settings():
    with pytest.raises(ValueError, match="momentum_form"):
        jaxopt_lab.muon(momentum_form="heavy-ball")
    with pytest.raises(ValueError, match="ns_coefficients"):
        jaxopt_lab.muon(ns_coefficients=(1.0, 2.0))
    with pytest.raises(ValueError, match="ns_dtype"):
        jaxopt_lab.muon(ns_dtype=jnp.int8)
