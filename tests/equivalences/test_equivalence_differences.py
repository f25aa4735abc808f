"""The "differ (documented)" rows, checked from both sides.

A documented difference used to have only a lower bound (the two must part), so
a broken lab, or a non-finite trajectory, passed it. Here each one has an upper
bound (``differs_below``) or a test of its stated cause, and a non-finite
trajectory fails.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from jaxopt_lab import crosscheck, equivalences
from jaxopt_lab.equivalences import check as table
from tests.equivalences.test_equivalences import ROWS, _skip_unless_installed

DIFFERING = [row for row in ROWS if not row.agrees]


def _row(name: str) -> equivalences.Equivalence:
    return next(row for row in ROWS if row.name == name)


def _trajectory(leaves: list[np.ndarray]) -> crosscheck.Trajectory:
    _, treedef = jax.tree.flatten({"w": 0.0})
    return crosscheck.Trajectory(np.dtype(np.float64), treedef, ["['w']"], leaves)


def test_every_documented_difference_has_an_upper_bound_or_a_diverging_cause():
    for row in DIFFERING:
        assert row.differs_below is not None or row.other_diverges, row.name
        if row.differs_below is not None:
            assert row.differs_below > row.differs_above, row.name


def test_a_documented_difference_that_turns_non_finite_fails():
    row = _row("nesterov-tutorial-defaults")
    steps = np.arange(1.0, 6.0)[:, None]
    finite, broken = steps * 1.0, steps * 1.05
    broken[3:] = np.nan  # a NaN stays one
    failure = table.judge(row, crosscheck.measure(_trajectory([broken]), _trajectory([finite])))
    assert failure is not None and "non-finite at step 4" in failure
    # The other side may diverge only in a row that says so, and never the lab.
    diverging = dataclasses.replace(row, other_diverges=True)
    lab_nan = crosscheck.measure(_trajectory([broken]), _trajectory([finite]))
    other_nan = crosscheck.measure(_trajectory([finite * 1.05]), _trajectory([broken / 1.05]))
    assert table.judge(diverging, lab_nan) is not None
    assert table.judge(diverging, other_nan) is None


def test_a_documented_difference_beyond_its_upper_bound_fails():
    row = _row("nesterov-tutorial-defaults")
    steps = np.arange(1.0, 6.0)[:, None]
    near, far = steps * (1 + row.differs_below / 2), steps * (1 + 3 * row.differs_below)
    assert table.judge(row, crosscheck.measure(_trajectory([near]), _trajectory([steps]))) is None
    failure = table.judge(row, crosscheck.measure(_trajectory([far]), _trajectory([steps])))
    assert failure is not None and "at most" in failure


@pytest.mark.parametrize("name", ["muon-torch-defaults", "muon-torch-non-default"])
def test_muon_without_its_nesterov_term_breaks_the_torch_rows_upper_bound(name):
    """A survivor of the audit: dropping Muon's Nesterov term left the table green."""
    row = _row(name)
    _skip_unless_installed(row)
    steps = 50
    other = table.other_trajectory(row, "float64", steps)
    assert table.check_row(row, "float64", steps, other=other).passed
    without = table.check_row(
        row, "float64", steps, other=other, lab=table.build_lab(row, nesterov=False)
    )
    assert not without.passed and "at most" in without.failure


@pytest.mark.parametrize("name", ["rprop-optax-defaults", "rprop-optax-non-default"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rprop_optax_is_the_lab_one_step_late(name, dtype):
    """The stated cause, rebuilt: optax applies the lab's previous update, zeroed where the
    new gradient reverses it (its first update is 0).

    Over 1000 steps; the rebuilt trajectory sums the same updates in the same order, so
    the bound is a few ulps of the params per step (float rounding of the sums).
    """
    row = _row(name)
    steps = 1000
    lab = table.lab_trajectory(row, dtype, steps)
    optax_side = table.other_trajectory(row, dtype, steps)
    params = table.table_params()
    gradients = table.table_gradients(steps)
    for path, lab_leaf, optax_leaf in zip(lab.paths, lab.leaves, optax_side.leaves, strict=True):
        key = path.strip("[]'")
        start = params[key].astype(dtype)
        lab_updates = np.diff(np.concatenate([start[None], lab_leaf]), axis=0)
        previous = np.concatenate([np.zeros_like(start)[None], lab_updates[:-1]])
        reversed_now = gradients[key].astype(dtype) * previous > 0  # lab's update is -sign(g)
        rebuilt = start + np.cumsum(np.where(reversed_now, 0, previous), axis=0)
        scale = np.max(np.abs(optax_leaf), axis=tuple(range(1, optax_leaf.ndim)), keepdims=True)
        ulps = np.abs(rebuilt - optax_leaf) / scale / np.finfo(dtype).eps
        assert np.max(ulps) < 4 * steps, (path, np.max(ulps))
        assert np.max(np.abs(optax_leaf[1:] - lab_leaf[:-1])) > 1e-3  # not simply shifted


def test_adadelta_optax_without_a_learning_rate_is_the_lab_maximizing():
    """The stated cause: optax adds +Δ; the lab with ``maximize=True`` does the same."""
    row = _row("adadelta-optax-no-learning-rate")
    for dtype in ("float32", "float64"):
        result = table.check_row(row, dtype, lab=table.build_lab(row, maximize=True))
        failure = crosscheck.tolerance_failure(result.comparison, ulps=table.FLAT_ULPS)
        assert failure is None, (dtype, failure)


def _adadelta(params, gradients, steps, *, rho, eps, square):
    """Zeiler's Adadelta (his Algorithm 1, lr 1), on complex numbers with ``square(g)``."""
    mean_square, mean_step = np.zeros_like(params), np.zeros_like(params)
    history = []
    for g in gradients[:steps]:
        mean_square = rho * mean_square + (1 - rho) * square(g)
        step = np.sqrt(mean_step + eps) / np.sqrt(mean_square + eps) * g
        mean_step = rho * mean_step + (1 - rho) * square(step)
        params = params - step
        history.append(params)
    return np.stack(history)


def test_adadelta_optax_complex_squares_the_gradient_and_the_lab_takes_its_magnitude():
    """The stated cause: optax is Adadelta with g² (and diverges), the lab with |g|²."""
    row = _row("adadelta-optax-complex")
    steps = 300
    params = table.table_params(complex_params=True)
    gradients = table.table_gradients(steps, complex_params=True)
    lab = table.lab_trajectory(row, "float64", steps)
    other = table.other_trajectory(row, "float64", steps)
    rho, eps = 0.9, 1e-6
    for index, path in enumerate(lab.paths):
        key = path.strip("[]'")
        magnitude = _adadelta(params[key], gradients[key], steps, rho=rho, eps=eps,
                              square=lambda g: (g * np.conj(g)).real)  # fmt: skip
        squared = _adadelta(params[key], gradients[key], steps, rho=rho, eps=eps,
                            square=lambda g: g * g)  # fmt: skip
        np.testing.assert_allclose(lab.leaves[index], magnitude, rtol=1e-12, atol=1e-12)
        # optax's recursion amplifies rounding as it diverges: compare relative to its scale.
        scale = np.max(np.abs(squared), axis=tuple(range(1, squared.ndim)), keepdims=True)
        assert np.max(np.abs(other.leaves[index] - squared) / scale) < 1e-8
        assert np.max(np.abs(magnitude - squared) / scale) > 0.1
