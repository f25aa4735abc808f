"""The leaderboard's computation: cells, time tables, profiles, scores from hand-built studies."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from jaxopt_lab.tuning.leaderboard import (
    LeaderboardConfig,
    LeaderboardError,
    check_config,
    median_study_trial,
    run_cell,
    scored,
    seconds_per_step,
    target_text,
    time_tables,
    times_markdown,
)
from jaxopt_lab.workloads import get_workload

# Both minimize; the fake studies reach each workload's own target when planned.
WORKLOADS = ("rosenbrock", "noisy_quadratic")
OPTIMIZERS = ("adam", "sgd")

# steps to target by (optimizer, workload), per study; inf: the study misses
PLANNED = {
    ("adam", "rosenbrock"): [40, 60, math.inf],  # median 60
    ("sgd", "rosenbrock"): [20, 30, 30],  # median 30 (best)
    ("adam", "noisy_quadratic"): [10, 10, 20],  # median 10 (best)
    ("sgd", "noisy_quadratic"): [50, math.inf, math.inf],  # median inf (2 of 3 miss)
}


class FakeStudies:
    """A stand-in for ``study``: curves that reach each workload's target when planned."""

    def __init__(self):
        self.calls = []

    def __call__(self, optimizer, space, workload, *, trials, studies, seed, steps, halving):
        self.calls.append((optimizer, workload.name))
        rows = []
        for study_index, reach in enumerate(PLANNED[(optimizer, workload.name)]):
            for trial in range(trials):
                for step in range(10, steps + 1, 10):
                    # trial 1 reaches the target at the planned step, the others never
                    hit = trial == 1 and step >= reach
                    metric = workload.target / 2 if hit else workload.target * 10
                    rows.append((study_index, trial, step, 1.0, metric, 0.0))
        curves = pd.DataFrame(
            rows,
            columns=["study", "trial", "step", "train_loss", "validation_metric", "seconds"],
        )
        points = [{"learning_rate": 0.01 * (trial + 1)} for trial in range(trials)]
        curves["learning_rate"] = [points[trial]["learning_rate"] for trial in curves["trial"]]
        return SimpleNamespace(curves=curves, points=points, compile_seconds=1.0, run_seconds=2.0,
                               lane_steps=trials * studies * steps)  # fmt: skip


def _config(**changes):
    base = dict(
        optimizers=OPTIMIZERS,
        workloads=WORKLOADS,
        trials=2,
        studies=3,
        steps={"rosenbrock": 100, "noisy_quadratic": 100},
    )
    return LeaderboardConfig(**{**base, **changes})


def hand_built_cells(config=None):
    """Every cell of ``config`` (default :func:`_config`), from :class:`FakeStudies`."""
    config = config or _config()
    fake = FakeStudies()
    cells = [run_cell(config, optimizer, get_workload(workload), run_study=fake)[0]
             for workload in config.workloads for optimizer in config.optimizers]  # fmt: skip
    return cells, fake


def test_time_tables_and_scores_from_hand_built_studies():
    config = _config()
    cells, fake = hand_built_cells(config)
    assert len(fake.calls) == 4
    times = time_tables(cells, config)
    steps = times["steps"]
    assert steps.loc["adam", "rosenbrock"] == 60 and steps.loc["sgd", "rosenbrock"] == 30
    assert steps.loc["adam", "noisy_quadratic"] == 10
    assert steps.loc["sgd", "noisy_quadratic"] == math.inf
    # seconds: steps x each cell's own seconds per step (measured, positive)
    for cell in cells:
        assert cell.seconds_per_step > 0
        expected = cell.steps_to_target * cell.seconds_per_step
        assert cell.seconds_to_target == pytest.approx(expected) or (
            math.isinf(expected) and math.isinf(cell.seconds_to_target)
        )
    # the winning trial of each study that reached the target, with its point
    adam_rosenbrock = cells[0]
    assert [s["trial"] for s in adam_rosenbrock.studies] == [1, 1, None]
    assert adam_rosenbrock.best_points[0] == {"study": 0, "trial": 1, "learning_rate": 0.02}
    # steps: adam r = (2, 1); sgd r = (1, inf). By hand (taus 1 + 3k/99):
    # adam: noisy_quadratic all along (3) + rosenbrock from tau = 2 on, which is grid
    # point k = 33 where the trapezoid covers (4 - 2) + H/2; sgd: rosenbrock all along.
    profiles, scores = scored(times)
    h = 3 / 99
    first = np.argmax(np.linspace(1, 4, 100) >= 2.0)
    tau = np.linspace(1, 4, 100)[first]
    assert scores.loc["adam", "score_steps"] == pytest.approx(
        (3 + (4 - tau) + h / 2) / 2 / 3, rel=1e-9
    )
    assert scores.loc["sgd", "score_steps"] == pytest.approx(3 / 2 / 3)
    np.testing.assert_array_equal(profiles["steps"].loc["sgd"], np.full(100, 0.5))
    targets = {cell.workload: target_text(cell.direction, cell.target) for cell in cells}
    text = times_markdown(times, targets)
    target = get_workload("rosenbrock").target
    assert f"rosenbrock (<= {target:g})" in text and "∞" in text


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"optimizers": ("adam", "adamz")}, "optimizer: unknown 'adamz'"),
        ({"workloads": ("rosenbrock", "mnist")}, "workload: unknown 'mnist'"),
        ({"optimizers": ("adam", "adam")}, "optimizers: adam listed twice"),
        ({"optimizers": ()}, "optimizers: none given"),
        ({"trials": 0}, "trials must be a positive integer"),
        ({"studies": -1}, "studies must be a positive integer"),
        ({"steps": {"tutorial_mlp": 10}}, "steps: for 'tutorial_mlp'"),
        ({"spaces": {"lion": {"learning_rate": {"feasible_points": [0.1]}}}}, "space: for 'lion'"),
        (
            {"spaces": {"adam": {"learning_rate": {"min": 1, "max": 0.1, "scaling": "log"}}}},
            "space of adam: search space: 'learning_rate': min 1 > max 0.1",
        ),
    ],
)
def test_bad_configs_are_refused_in_one_line(changes, message):
    with pytest.raises(LeaderboardError, match=message.replace("(", r"\(")):
        check_config(_config(**changes))


def test_seconds_per_step_times_one_network():
    workload = get_workload("noisy_quadratic")
    point = {"learning_rate": 1e-2, "warmup_factor": 0.05}
    short = seconds_per_step("sgd", workload, point, steps=20, repeats=1)
    assert 0 < short < 1.0


def _curves(finals):
    """Curves whose last evaluation of (study, trial) is ``finals[study][trial]``."""
    rows = [(study, trial, step, value if step == 20 else 0.5)
            for study, values in enumerate(finals) for trial, value in enumerate(values)
            for step in (10, 20)]  # fmt: skip
    return pd.DataFrame(rows, columns=["study", "trial", "step", "validation_metric"])


def test_the_shown_trial_is_the_median_study_s_best_trial():
    curves = _curves([[1.0, 2.0]] * 4)
    studies = [{"study": 0, "trial": 1, "steps_to_target": 300.0},
               {"study": 1, "trial": 0, "steps_to_target": 100.0},
               {"study": 2, "trial": 1, "steps_to_target": 200.0}]  # fmt: skip
    assert median_study_trial(studies, curves, "minimize") == (2, 1)  # times 100, 200, 300
    # an even count: the faster of the two middle ones; a tie: the lower study index
    even = [*studies, {"study": 3, "trial": 0, "steps_to_target": None}]
    assert median_study_trial(even, curves, "minimize") == (2, 1)
    tied = [{"study": 1, "trial": 1, "steps_to_target": 100.0},
            {"study": 0, "trial": 0, "steps_to_target": 100.0}]  # fmt: skip
    assert median_study_trial(tied, curves, "minimize") == (0, 0)


def test_a_missed_median_study_shows_its_best_final_trial_nan_worst():
    curves = _curves([[3.0, float("nan"), 1.0], [0.1, 0.2, 0.3]])
    missed = [{"study": 0, "trial": None, "steps_to_target": None},
              {"study": 1, "trial": None, "steps_to_target": math.inf}]  # fmt: skip
    assert median_study_trial(missed, curves, "minimize") == (0, 2)  # 1.0 is the lowest
    assert median_study_trial(missed, curves, "maximize") == (0, 0)  # NaN never wins
    nan_only = _curves([[float("nan"), float("nan")]])
    assert median_study_trial(missed[:1], nan_only, "maximize") == (0, 0)
