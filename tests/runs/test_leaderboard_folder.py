"""A leaderboard's folder: its files, its lock, its resume, its refusals before any study."""

from __future__ import annotations

import json
import threading

import pandas as pd
import pytest

from jaxopt_lab.runs.leaderboard_folder import LeaderboardRun
from jaxopt_lab.tuning.leaderboard import LeaderboardError, time_tables
from jaxopt_lab.workloads import get_workload
from tests.tuning.test_leaderboard import PLANNED, WORKLOADS, FakeStudies, _config


def test_the_folder_holds_the_tables_scores_curves_and_summary(tmp_path):
    fake = FakeStudies()
    with LeaderboardRun(tmp_path, _config()) as run:
        result = run.run(run_study=fake)
    assert not result.interrupted and len(fake.calls) == 4
    # the tables are the computation's (tests/tuning/test_leaderboard.py checks it by hand)
    for unit, table in time_tables(result.cells, _config()).items():
        pd.testing.assert_frame_equal(result.times[unit], table)
    assert result.times["steps"].loc["adam", "rosenbrock"] == 60
    for name in ("scores.md", "time_to_target.md", "profiles.png", "curves.parquet",
                 "summary.json", "config.json"):  # fmt: skip
        assert (tmp_path / name).stat().st_size > 0
    curves = pd.read_parquet(tmp_path / "curves.parquet")
    assert len(curves) == 4 * 3 * 2 * 10
    assert set(zip(curves["optimizer"], curves["workload"])) == set(PLANNED)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["steps_to_target"]["sgd"]["noisy_quadratic"] is None  # a miss: null
    assert summary["steps_to_target"]["adam"]["rosenbrock"] == 60
    assert summary["scores"]["sgd"]["score_steps"] == pytest.approx(3 / 2 / 3)
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
