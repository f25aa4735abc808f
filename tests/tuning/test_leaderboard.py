"""The leaderboard: its tables and scores from hand-built studies, its folder, its resume."""

from __future__ import annotations

import json
import math
import threading
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from jaxopt_lab.tuning.leaderboard import (
    LeaderboardConfig,
    LeaderboardError,
    LeaderboardRun,
    seconds_per_step,
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


def test_tables_scores_and_files_from_hand_built_studies(tmp_path):
    fake = FakeStudies()
    with LeaderboardRun(tmp_path, _config()) as run:
        result = run.run(run_study=fake)
    assert not result.interrupted and len(fake.calls) == 4
    steps = result.times["steps"]
    assert steps.loc["adam", "rosenbrock"] == 60 and steps.loc["sgd", "rosenbrock"] == 30
    assert steps.loc["adam", "noisy_quadratic"] == 10
    assert steps.loc["sgd", "noisy_quadratic"] == math.inf
    # seconds: steps x each cell's own seconds per step (measured, positive)
    for cell in result.cells:
        assert cell.seconds_per_step > 0
        expected = cell.steps_to_target * cell.seconds_per_step
        assert cell.seconds_to_target == pytest.approx(expected) or (
            math.isinf(expected) and math.isinf(cell.seconds_to_target)
        )
    # steps: adam r = (2, 1); sgd r = (1, inf). By hand (taus 1 + 3k/99):
    # adam: noisy_quadratic all along (3) + rosenbrock from tau = 2 on, which is grid
    # point k = 33 where the trapezoid covers (4 - 2) + H/2; sgd: rosenbrock all along.
    h = 3 / 99
    first = np.argmax(np.linspace(1, 4, 100) >= 2.0)
    tau = np.linspace(1, 4, 100)[first]
    assert result.scores.loc["adam", "score_steps"] == pytest.approx(
        (3 + (4 - tau) + h / 2) / 2 / 3, rel=1e-9
    )
    assert result.scores.loc["sgd", "score_steps"] == pytest.approx(3 / 2 / 3)
    for name in ("scores.md", "time_to_target.md", "profiles.png", "curves.parquet",
                 "summary.json", "config.json"):  # fmt: skip
        assert (tmp_path / name).stat().st_size > 0
    curves = pd.read_parquet(tmp_path / "curves.parquet")
    assert len(curves) == 4 * 3 * 2 * 10
    assert set(zip(curves["optimizer"], curves["workload"])) == set(PLANNED)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["steps_to_target"]["sgd"]["noisy_quadratic"] is None  # a miss: null
    assert summary["steps_to_target"]["adam"]["rosenbrock"] == 60
    assert "| adam" in (tmp_path / "scores.md").read_text()
    times = (tmp_path / "time_to_target.md").read_text()
    target = get_workload("rosenbrock").target
    assert f"rosenbrock (<= {target:g})" in times and "∞" in times


def test_resume_keeps_finished_cells_and_refuses_other_settings(tmp_path):
    fake = FakeStudies()
    stop = threading.Event()

    def stop_after_first(cell, resumed):
        stop.set()

    with LeaderboardRun(tmp_path, _config()) as run:
        partial = run.run(run_study=fake, on_cell=stop_after_first, stop=stop)
    assert partial.interrupted and len(partial.cells) == 1 and len(fake.calls) == 1
    with pytest.raises(LeaderboardError, match="holds a leaderboard already; resume it"):
        with LeaderboardRun(tmp_path, _config()):
            pass
    with pytest.raises(LeaderboardError, match=r"other settings \(trials: saved 2, now 3\)"):
        with LeaderboardRun(tmp_path, _config(trials=3), resume=True):
            pass
    resumed = []
    with LeaderboardRun(tmp_path, _config(), resume=True) as run:
        result = run.run(run_study=fake, on_cell=lambda cell, was: resumed.append(was))
    assert len(fake.calls) == 4  # the first cell was not run again
    assert resumed == [True, False, False, False]
    assert result.times["steps"].loc["sgd", "rosenbrock"] == 30


def test_a_second_process_is_refused_while_the_first_holds_the_folder(tmp_path):
    with LeaderboardRun(tmp_path, _config()):
        with pytest.raises(LeaderboardError, match="in use by another run"):
            with LeaderboardRun(tmp_path, _config(), resume=True):
                pass


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
def test_bad_configs_are_refused_in_one_line(tmp_path, changes, message):
    with pytest.raises(LeaderboardError, match=message.replace("(", r"\(")):
        LeaderboardRun(tmp_path, _config(**changes))


def test_a_budget_off_the_evaluation_grid_is_refused_before_any_study(tmp_path):
    fake = FakeStudies()
    interval = get_workload("rosenbrock").eval_every
    steps = {"rosenbrock": 3 * interval + 1, "noisy_quadratic": 100}
    with pytest.raises(LeaderboardError, match="steps of rosenbrock: .* not a multiple"):
        with LeaderboardRun(tmp_path, _config(steps=steps)) as run:
            run.run(run_study=fake)
    assert fake.calls == [] and not (tmp_path / "config.json").exists()


def test_a_space_the_workload_cannot_take_is_refused_before_any_study(tmp_path):
    fake = FakeStudies()
    space = {"learning_rate": {"feasible_points": [0.1]}, "label_smoothing": {
        "feasible_points": [0.1]}}  # fmt: skip
    with pytest.raises(LeaderboardError, match="sgd has no hyperparameter 'label_smoothing'"):
        with LeaderboardRun(tmp_path, _config(spaces={"sgd": space})) as run:
            run.run(run_study=fake)
    assert fake.calls == [] and not (tmp_path / "config.json").exists()


def test_seconds_per_step_times_one_network():
    workload = get_workload("noisy_quadratic")
    point = {"learning_rate": 1e-2, "warmup_factor": 0.05}
    short = seconds_per_step("sgd", workload, point, steps=20, repeats=1)
    assert 0 < short < 1.0


@pytest.mark.slow
def test_a_real_leaderboard_on_the_cheap_workloads(tmp_path):
    # the real study engine: two optimizers, two cheap workloads, short budgets
    steps = {name: 3 * get_workload(name).eval_every for name in WORKLOADS}
    config = _config(trials=2, studies=2, steps=steps)
    with LeaderboardRun(tmp_path, config) as run:
        result = run.run()
    curves = pd.read_parquet(tmp_path / "curves.parquet")
    assert len(curves) == 2 * 2 * 2 * 2 * 3  # optimizers x workloads x studies x trials x evals
    assert set(result.scores.columns) == {"score_steps", "score_seconds"}
    assert ((result.scores >= 0) & (result.scores <= 1)).all().all()


def test_resume_retimes_cells_saved_against_another_target_and_reruns_another_budget(tmp_path):
    fake = FakeStudies()
    with LeaderboardRun(tmp_path, _config()) as run:
        run.run(run_study=fake)
    assert len(fake.calls) == 4
    # as if the cell had been saved when the workload's target was another
    saved = tmp_path / "cells" / "rosenbrock" / "adam.json"
    record = json.loads(saved.read_text())
    record.update(target=123.0, steps_to_target=999.0)
    saved.write_text(json.dumps(record))
    # and another cell with another budget
    other = tmp_path / "cells" / "noisy_quadratic" / "sgd.json"
    record = json.loads(other.read_text())
    record.update(budget=7)
    other.write_text(json.dumps(record))
    with LeaderboardRun(tmp_path, _config(), resume=True) as run:
        result = run.run(run_study=fake)
    assert fake.calls[4:] == [("sgd", "noisy_quadratic")]  # only the other budget reran
    assert result.times["steps"].loc["adam", "rosenbrock"] == 60  # re-timed from the curves
    retimed = json.loads(saved.read_text())
    assert retimed["target"] == get_workload("rosenbrock").target
    assert retimed["best_points"][0] == {"study": 0, "trial": 1, "learning_rate": 0.02}
