"""The second measure: per-step ulps of the *update*, relative to the update's own scale."""

from __future__ import annotations

import functools

import numpy as np
import optax
import pytest

import jaxopt_lab
from jaxopt_lab import crosscheck, equivalences

STEPS = 100


def _params():
    rng = np.random.default_rng(0)
    return {"b": rng.standard_normal(16), "w": rng.standard_normal((16, 8))}


def test_a_bias_correction_hidden_by_a_small_step_shows_in_the_updates():
    # optax's 1 - 0.999**t is off by 1.3e-5 relative: about 100 ulps of the step itself,
    # which lr = 1e-3 hides in the params (the step is 1e-3 of p: under 2 ulps of p).
    params = _params()
    gradients = crosscheck.random_gradients(params, STEPS, seed=1)
    accurate = crosscheck.compare(
        jaxopt_lab.adam(1e-3, eps=1e-8, eps_hat=False),
        optax.adam(1e-3),
        params,
        gradients,
        dtype=np.float32,
        updates=True,
    )
    assert accurate.max_scaled_ulps.max() < 8  # within the table's flat bound on params
    assert accurate.max_update_ulps.max() > 50
    # The first step's update: 1 - b2 off by 1.3e-5 relative, halved by the square root of
    # v_hat: 6.5e-6 relative, 55 ulps of the update.
    assert 40 < accurate.max_update_ulps[0] < 80
    rounded = crosscheck.compare(
        jaxopt_lab.adam(
            1e-3, eps=1e-8, eps_hat=False, bias_correction="float32", moment_form="weighted_sum"
        ),
        optax.adam(1e-3),
        params,
        gradients,
        dtype=np.float32,
        updates=True,
    )
    # With optax's rounding and its tree-wide division the lab's updates are optax's, bit for bit.
    assert rounded.max_update_ulps.max() == 0
    assert rounded.max_ulp_distance.max() == 0


@pytest.mark.parametrize("library", ["optax", "torch", "keras", "tutorial"])
def test_probing_the_update_leaves_the_run_unchanged(library):
    params = _params()
    gradients = crosscheck.random_gradients(params, 20, seed=1)
    if library == "optax":
        side = optax.adam(1e-2)
    elif library == "torch":
        torch = pytest.importorskip("torch")
        side = functools.partial(torch.optim.Adam, lr=1e-2, weight_decay=0.1)
    elif library == "keras":
        side = crosscheck.import_keras().optimizers.AdamW(learning_rate=1e-2)
    else:
        from jaxopt_lab import reference

        side = reference.Adam()
    # The probe runs inside the side's own loop (one compiled scan for optax and Keras, step
    # by step for torch and the tutorial) and must not change a bit of the run.
    plain = crosscheck.trajectory(side, params, gradients, dtype=np.float32)
    probed = crosscheck.trajectory(side, params, gradients, dtype=np.float32, updates=True)
    for leaf_plain, leaf_probed in zip(plain.leaves, probed.leaves, strict=True):
        np.testing.assert_array_equal(leaf_plain, leaf_probed)
    # The first update from zero params, Adam's first step: -lr * sign(g) to a few ulps
    # (the decay, which scales p, vanishes at p = 0).
    first = probed.updates[1][0]
    lr = 1e-3 if library == "tutorial" else 1e-2
    np.testing.assert_allclose(np.abs(first), lr, rtol=1e-3)


def test_the_check_shows_update_ulps_beside_param_ulps():
    rows = equivalences.select(
        equivalences.EQUIVALENCES, optimizers_wanted=["adam"], libraries=["optax"]
    )[:1]
    results = equivalences.check_rows(rows, 20, dtypes=[np.float32], updates=True)
    table = equivalences.render_markdown(results, 20)
    assert "float32: update ulps (worst step)" in table.splitlines()[0]
    cells = [cell.strip() for cell in table.splitlines()[2].split("|")]
    assert float(cells[7]) == pytest.approx(
        np.nanmax(results[0].comparison.max_update_ulps), abs=0.05
    )
