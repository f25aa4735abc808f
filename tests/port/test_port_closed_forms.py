"""Schedules without ``steps=`` (issue 20, item 4): torch's closed form past the table, never NaN.

The reference is torch's own recursion, as :func:`torch_schedules.simulate` re-runs it
(``tests/port/test_port_schedules.py`` proves that equal to the live torch, bit for bit).
The bounds are the measured distances (1000 scheduler steps) with room: in float32 the
recursive cosine lands furthest, 23 ulps of the schedule's peak, and no schedule is more
than 0.79 ulp away at step 1 (one rounding); in float64 the recursion itself drifts from
the cosine by up to 485 float64 ulps (1e-13), 2.0 per step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab import cli
from jaxopt_lab.port import torch_schedules as T
from jaxopt_lab.port.closed_forms import closed_form_distance

GROUPS = [{"lr": 0.1, "betas": (0.9, 0.999)}, {"lr": 0.02, "betas": (0.8, 0.99)}]

SPECS = {
    "StepLR": T.StepLR(7, 0.5),
    "MultiStepLR": T.MultiStepLR((5, 20, 20), 0.3),
    "ConstantLR": T.ConstantLR(0.5, 10),
    "LinearLR": T.LinearLR(0.1, 1.0, 30),
    "ExponentialLR": T.ExponentialLR(0.99),
    "PolynomialLR": T.PolynomialLR(50, 2.0),
    "CosineAnnealingLR": T.CosineAnnealingLR(40, 1e-3),
    "CosineAnnealingWarmRestarts": T.CosineAnnealingWarmRestarts(10, 2, 1e-4),
    "CosineAnnealingWarmRestarts-1": T.CosineAnnealingWarmRestarts(13),
    "OneCycleLR": T.OneCycleLR(max_lr=(1.0, 0.5), total_steps=300),
    "OneCycleLR-three-phase": T.OneCycleLR(
        max_lr=1.0, total_steps=301, three_phase=True, anneal_strategy="linear"
    ),
    "SequentialLR": T.SequentialLR((T.LinearLR(0.1, 1.0, 10), T.CosineAnnealingLR(50)), (10,)),
}
BOUNDS = {"float32": (64.0, 1.0), "float64": (1024.0, 4.0)}
"""(max ulps of the schedule's peak, ulps per scheduler step) over 1000 scheduler steps."""


def _epochs(spec, wanted: int) -> int:
    """``wanted``, or fewer where torch raises (past OneCycleLR's end)."""
    if isinstance(spec, T.OneCycleLR):
        return min(wanted, T.one_cycle_total_steps(spec) + 1)
    return wanted


def test_every_tabulated_scheduler_is_covered_here():
    assert {type(spec) for spec in SPECS.values()} == set(T.SPECS)


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_closed_form_is_near_torch_recursion(name, dtype):
    distance = closed_form_distance(SPECS[name], GROUPS, 1000, dtype)
    max_ulps, per_step = BOUNDS[dtype]
    assert distance.max_ulps <= max_ulps and distance.ulps_per_step <= per_step, distance


@pytest.mark.parametrize("name", list(SPECS))
def test_every_scheduler_works_without_steps_and_is_never_nan(name):
    spec = SPECS[name]
    schedule = T.torch_schedule(spec, GROUPS)
    counts = jnp.arange(0, 5000, dtype=jnp.int32)
    epochs = _epochs(spec, 1000)
    table = T.simulate(spec, GROUPS, epochs)
    for group, lr in enumerate(schedule.lr):
        values = np.asarray(jax.jit(jax.vmap(lr))(counts))
        assert np.all(np.isfinite(values))
        expected = table.lr[:, group].astype(np.float32)
        scale = np.abs(expected).max()
        assert np.abs(values[:epochs] - expected).max() <= 64 * np.finfo(np.float32).eps * scale
    if schedule.momentum is not None:
        for momentum in schedule.momentum:
            assert np.all(np.isfinite(np.asarray(jax.vmap(momentum)(counts))))


@pytest.mark.parametrize("name", list(SPECS))
def test_with_steps_it_is_torch_exactly_up_to_steps_then_the_closed_form(name):
    spec = SPECS[name]
    schedule = T.torch_schedule(spec, GROUPS, every=2, steps=120)
    table = T.simulate(spec, GROUPS, 200)
    with jax.enable_x64(True):
        counts = jnp.arange(400, dtype=jnp.int64)
        values = np.asarray(jax.vmap(schedule.lr[1])(counts))
    np.testing.assert_array_equal(values[:120], np.repeat(table.lr[:60, 1], 2))
    assert np.all(np.isfinite(values))
    np.testing.assert_allclose(values[120:], np.repeat(table.lr[60:, 1], 2), rtol=1e-12, atol=1e-15)


def test_one_cycle_past_its_end_holds_its_final_value():
    schedule = T.torch_schedule(
        T.OneCycleLR(max_lr=1.0, total_steps=10), [{"lr": 1.0, "momentum": 0.9}]
    )
    assert schedule.exact_until is None
    values = np.asarray(jax.vmap(schedule.lr[0])(jnp.arange(10, 40)))
    assert np.all(values == values[0]) and np.isfinite(values[0])


def test_only_what_is_asked_is_tabulated_and_a_huge_table_is_refused():
    spec = T.OneCycleLR(max_lr=1.0, total_steps=10**12)
    schedule = T.torch_schedule(spec, [{"lr": 1.0, "momentum": 0.9}], steps=5)
    assert schedule.table.lr.shape == (5, 1) and schedule.exact_until == 5
    assert np.isfinite(float(schedule.lr[0](jnp.int32(10**9))))
    with pytest.raises(ValueError, match="more than the 2,000,000 values the port tabulates"):
        T.torch_schedule(T.ExponentialLR(0.9), [{"lr": 1.0}], steps=3_000_000)
    with pytest.raises(ValueError, match="more than the 2,000,000 values"):
        T.torch_schedule(T.ExponentialLR(0.9), [{"lr": 1.0}] * 4, steps=600_000)


def test_port_says_what_it_does_past_steps_and_reports_the_distance(torch, capsys):
    status = cli.main(
        ["port", "SGD(lr=0.1)", "--scheduler", "CosineAnnealingLR(T_max=30)", "--steps", "40"]
    )
    output = capsys.readouterr().out
    assert status == 0
    assert (
        "torch's own CosineAnnealingLR values for the first 40 optimizer steps (steps=40); "
        "past them it continues with its closed form in the run's dtype, not NaN"
    ) in output
    assert (
        "closed form of CosineAnnealingLR vs torch's recursion, 40 scheduler steps in "
        "float32: at most" in output
    )
    status = cli.main(
        [
            "port",
            "SGD(lr=0.1, momentum=0.9)",
            "--scheduler",
            "OneCycleLR(max_lr=1.0, total_steps=10**12)",
            "--steps",
            "5",
        ]
    )
    output = capsys.readouterr().out
    assert status == 0 and "for the first 5 optimizer steps" in output


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: T.StepLR(step_size=0), "StepLR step_size must be an int >= 1, got 0"),
        (lambda: T.CosineAnnealingLR(T_max=0), "CosineAnnealingLR T_max must be an int >= 1"),
        (lambda: T.CosineAnnealingWarmRestarts(T_0=5, T_mult=0), "T_mult must be an int >= 1"),
        (lambda: T.ExponentialLR(gamma=float("inf")), "gamma must be a finite number"),
        (lambda: T.LinearLR(start_factor=0.0), "start_factor must be > 0.0"),
        (lambda: T.ConstantLR(factor=1.5), "factor must be <= 1.0"),
        (lambda: T.PolynomialLR(total_iters=0), "total_iters must be an int >= 1"),
        (lambda: T.MultiStepLR(milestones=(3, -1)), "milestones must be ints >= 0"),
        (lambda: T.OneCycleLR(max_lr=1.0, total_steps=10, div_factor=0.0), "div_factor must"),
    ],
)
def test_specs_check_their_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_torch_decoupled_decay_continues_with_the_closed_form_of_its_factor():
    from jaxopt_lab import port

    schedule = T.torch_schedule(T.ExponentialLR(0.5), [{"lr": 1.0}], steps=3)
    decay = port.torch_decoupled_weight_decay(0.1, schedule.lr[0])
    params = {"w": jnp.ones(2)}
    state = decay.init(params)
    factors = []
    for _ in range(6):  # the factor 1 - lr * wd, with lr = 0.5**t, through and past the table
        updates, state = decay.update({"w": jnp.zeros(2)}, state, params)
        factors.append(float(updates["w"][0] + 1.0))
    np.testing.assert_allclose(factors, [1 - 0.1 * 0.5**t for t in range(6)], rtol=1e-6)


def test_a_far_milestone_is_not_tabulated_when_few_steps_are_asked():
    schedule = T.torch_schedule(T.MultiStepLR((10**6,), 0.5), [{"lr": 1.0}], steps=5)
    assert schedule.table.lr.shape == (5, 1) and schedule.exact_until == 5
    values = jax.vmap(schedule.lr[0])(jnp.asarray([0, 4, 5, 10**6 - 1, 10**6]))
    np.testing.assert_array_equal(np.asarray(values), [1.0, 1.0, 1.0, 1.0, 0.5])
    settled = T.torch_schedule(T.LinearLR(0.5, 1.0, 4), [{"lr": 1.0}], steps=100)
    assert settled.table.lr.shape == (5, 1) and settled.exact_until is None
