"""Successive halving inside the study's program: rungs, survivors, compute saved."""

import dataclasses

import numpy as np
import pytest

from jaxopt_lab.tuning import rung_plan, study
from jaxopt_lab.workloads import get_workload

ROSENBROCK = dataclasses.replace(get_workload("rosenbrock"), steps=270, eval_every=10)
SPACE = [{"learning_rate": float(lr)} for lr in np.geomspace(1e-3, 0.3, 27)]


@pytest.mark.parametrize(
    ("evaluations", "trials", "eta", "ends", "lanes"),
    [
        (27, 27, 3, (1, 3, 9, 27), (27, 9, 3, 1)),  # E/27, E/9, E/3, E
        (50, 16, 2, (3, 6, 12, 25, 50), (16, 8, 4, 2, 1)),  # round(50/16) = 3
        (5, 27, 3, (1, 2, 5), (27, 3, 1)),  # 5/27 and 5/9 both end at 1: cut twice there
        (50, 5, 3, (17, 50), (5, 1)),
        (50, 2, 3, (50,), (2,)),  # too few trials to cut
        (10, 8, None, (10,), (8,)),
    ],
)
def test_rung_plan_by_hand(evaluations, trials, eta, ends, lanes):
    plan = rung_plan(evaluations, trials, eta)
    assert plan.ends == ends and plan.lanes == lanes


def test_lane_evaluations_of_27_trials_at_eta_3_is_a_ninth():
    # 27*1 + 9*2 + 3*6 + 1*18 = 81 lane-evaluations of 27*27 = 729.
    assert rung_plan(27, 27, 3).lane_evaluations() == 81


@pytest.mark.slow
def test_survivors_curves_equal_the_full_study_and_survivors_are_the_best():
    full = study("adam", SPACE, ROSENBROCK, trials=27, studies=2, seed=4, schedule="constant")
    halved = study("adam", SPACE, ROSENBROCK, trials=27, studies=2, seed=4, halving=3,
                   schedule="constant")  # fmt: skip
    merged = halved.curves.merge(full.curves, on=["study", "trial", "step"], how="left")
    assert len(merged) == len(halved.curves)
    for column in ("train_loss", "validation_metric"):  # elementwise: bit for bit
        np.testing.assert_array_equal(merged[f"{column}_x"], merged[f"{column}_y"])
    # At each rung end the trials that go on are the best by the full study's metric.
    plan = rung_plan(27, 27, 3)
    for study_index in range(2):
        full_study = full.curves[full.curves["study"] == study_index]
        halved_study = halved.curves[halved.curves["study"] == study_index]
        for end, keep in zip(plan.ends[:-1], plan.lanes[1:], strict=True):
            step = end * 10
            at_rung = full_study[full_study["step"] == step]
            alive = set(halved_study[halved_study["step"] == step]["trial"])
            ranked = at_rung[at_rung["trial"].isin(alive)].sort_values("validation_metric")
            went_on = set(halved_study[halved_study["step"] == step + 10]["trial"])
            assert went_on == set(ranked["trial"][:keep])
    assert halved.lane_steps == 2 * 81 * 10 and halved.full_lane_steps == 2 * 27 * 270
    assert halved.compute_fraction == pytest.approx(1 / 9)


def test_a_nan_trial_never_survives_a_rung():
    space = [{"learning_rate": 1e4}] * 2 + [{"learning_rate": 1e-3}] * 2
    result = study("sgd", space, ROSENBROCK, trials=4, halving=2, schedule="constant")
    survivors = result.curves[result.curves["step"] == ROSENBROCK.steps]["trial"]
    assert set(survivors) <= {2, 3}
