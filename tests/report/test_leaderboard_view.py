"""A leaderboard's section of the report, from a tiny real leaderboard's folder.

The view's numbers are checked against what they come from, computed here again by hand:
the profiles from the summary's time tables (and from its cells) with NumPy, the curves
from ``curves.parquet`` (each study's first step at the target, the median study, its
best trial). A malformed file is refused in one line that names the file and the field.
"""

from __future__ import annotations

import html
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from jaxopt_lab.report.document import Interactive, Report, Table, to_html
from jaxopt_lab.report.explorer import RunFolderError, run_section
from jaxopt_lab.report.leaderboard_view import leaderboard_view
from jaxopt_lab.runs.leaderboard_folder import LeaderboardRun
from jaxopt_lab.runs.run_files import check_leaderboard_summary
from jaxopt_lab.tuning.leaderboard import LeaderboardConfig


def _adam(*rates):
    return [{"learning_rate": rate, "one_minus_beta1": 0.1, "beta2": 0.999,
             "warmup_factor": 0.05} for rate in rates]  # fmt: skip


def _sgd(*rates):
    return [{"learning_rate": rate, "warmup_factor": 0.05} for rate in rates]


BOARD = LeaderboardConfig(
    optimizers=("adam", "sgd"),
    workloads=("rosenbrock", "noisy_quadratic"),
    trials=2,
    studies=2,
    steps={"rosenbrock": 1000, "noisy_quadratic": 500},
    spaces={"adam": _adam(0.05, 0.5), "sgd": _sgd(0.003, 3.0)},
)
"""Two points each, chosen so that the board is not trivial: Adam reaches both targets, SGD
reaches rosenbrock's later and misses noisy_quadratic's, SGD at 3.0 diverges on rosenbrock."""


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """The folder of a real leaderboard of :data:`BOARD` (about 8 s on the 2-core machine)."""
    folder = tmp_path_factory.mktemp("board")
    with LeaderboardRun(folder, BOARD) as run:
        run.run()
    return folder


def read_board(folder):
    return json.loads((folder / "summary.json").read_text()), pd.read_parquet(
        folder / "curves.parquet"
    )


def hand_profile(times: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """rho[o, tau] by hand: r = t / the best t of the workload, inf beyond 4x or for a miss."""
    best = times.min(axis=0)
    with np.errstate(invalid="ignore"):
        ratios = np.where(np.isfinite(times) & (times <= 4 * best), times / best, np.inf)
    return np.array([[np.mean(row <= tau) for tau in taus] for row in ratios])


def hand_shown_trials(curves: pd.DataFrame, target: float) -> dict:
    """optimizer -> (study, trial, the study's steps to target) on one minimized workload."""
    shown = {}
    for optimizer, mine in curves.groupby("optimizer"):
        times = []
        for study, rows in mine.groupby("study"):
            hits = rows[rows["validation_metric"] <= target]
            times.append((hits["step"].min() if len(hits) else np.inf, study))
        times.sort()
        steps, study = times[(len(times) - 1) // 2]
        rows = mine[mine["study"] == study]
        if np.isfinite(steps):
            hits = rows[rows["validation_metric"] <= target]
            trial = hits.sort_values(["step", "trial"])["trial"].iloc[0]
        else:
            last = (
                rows.sort_values("step")
                .groupby("trial")["validation_metric"]
                .apply(lambda m: m.iloc[-1])
            )
            trial = (-last.astype(float)).fillna(-np.inf).idxmax()
        shown[optimizer] = (int(study), int(trial), steps)
    return shown


def test_the_board_is_not_trivial(board):
    summary, _ = read_board(board)
    steps = summary["steps_to_target"]
    assert (
        steps["adam"]["rosenbrock"] < steps["sgd"]["rosenbrock"] < 4 * steps["adam"]["rosenbrock"]
    )
    assert steps["adam"]["noisy_quadratic"] is not None and steps["sgd"]["noisy_quadratic"] is None


def test_the_profiles_are_the_time_tables_profiles_computed_by_hand(board):
    summary, _ = read_board(board)
    view = leaderboard_view(summary, read_board(board)[1])
    taus = view.data["taus"]
    np.testing.assert_array_equal(taus, np.linspace(1, 4, 100))
    optimizers, workloads = BOARD.optimizers, BOARD.workloads
    for unit in ("steps", "seconds"):
        table = summary[f"{unit}_to_target"]
        times = np.array([[np.inf if table[o][w] is None else table[o][w] for w in workloads]
                          for o in optimizers])  # fmt: skip
        # the same times as the cells' own (each cell's median over its studies)
        for cell in summary["cells"]:
            value = cell[f"{unit}_to_target"]
            o, w = optimizers.index(cell["optimizer"]), workloads.index(cell["workload"])
            assert times[o, w] == (np.inf if value is None else value)
        expected = hand_profile(times, taus)
        np.testing.assert_array_equal(view.data["profiles"][unit], expected)
        # and the summary's scores are these profiles' trapezoidal integrals / 3
        for o, name in enumerate(optimizers):
            area = np.sum((expected[o, 1:] + expected[o, :-1]) / 2 * np.diff(taus)) / 3
            assert summary["scores"][name][f"score_{unit}"] == pytest.approx(area, rel=1e-12)


def test_the_curves_are_each_optimizer_s_median_study_s_best_trial(board):
    summary, curves = read_board(board)
    view = leaderboard_view(summary, curves)
    assert [w["name"] for w in view.data["workloads"]] == list(BOARD.workloads)
    for entry in view.data["workloads"]:
        cells = {c["optimizer"]: c for c in summary["cells"] if c["workload"] == entry["name"]}
        target = cells["adam"]["target"]
        assert entry["target"] == target and entry["direction"] == "minimize"
        assert (
            entry["metric"]
            == {"rosenbrock": "f(x, y)", "noisy_quadratic": "exact loss"}[entry["name"]]
        )
        mine = curves[curves["workload"] == entry["name"]]
        shown = hand_shown_trials(mine, target)
        assert [s["optimizer"] for s in entry["series"]] == list(BOARD.optimizers)
        for series in entry["series"]:
            study, trial, steps = shown[series["optimizer"]]
            assert (series["study"], series["trial"]) == (study, trial)
            rows = mine[(mine["optimizer"] == series["optimizer"]) & (mine["study"] == study)
                        & (mine["trial"] == trial)].sort_values("step")  # fmt: skip
            np.testing.assert_array_equal(series["steps"], rows["step"])
            np.testing.assert_array_equal(series["metric"], rows["validation_metric"])
            if np.isfinite(steps):
                assert series["reached_step"] == steps
                first = series["steps"][np.argmax(series["metric"] <= target)]
                assert first == steps  # the line crosses the target where the study's time is
            else:
                assert series["reached_step"] is None


def test_run_section_shows_the_folder_and_the_run_wrote_its_report(board):
    summary, _ = read_board(board)
    section = run_section(board)
    assert section.title == "Leaderboard"
    tables = [block for block in section.blocks if isinstance(block, Table)]
    scores = {row[0]: (float(row[1]), float(row[2])) for row in tables[0].rows}
    for name, score in summary["scores"].items():
        assert scores[name] == pytest.approx(
            (score["score_steps"], score["score_seconds"]), abs=5e-4
        )
    steps_rows = {row[0]: row[1:] for row in tables[1].rows}
    assert steps_rows["sgd"][1] == "∞"
    assert steps_rows["adam"][0] == f"{summary['steps_to_target']['adam']['rosenbrock']:.0f}"
    assert [b.view for b in section.blocks if isinstance(b, Interactive)] == ["leaderboard"]
    # the leaderboard wrote its report as one result (result.json), the view in the page
    manifest = json.loads((board / "result.json").read_text())["files"]
    assert {"report.md", "report.html"} <= set(manifest)
    assert 'data-view="leaderboard"' in (board / "report.html").read_text()
    assert "| adam" in (board / "report.md").read_text()


def _broken(board, tmp_path, change):
    folder = tmp_path / "broken"
    shutil.copytree(board, folder, ignore=shutil.ignore_patterns(".lock", "cells"))
    summary = json.loads((folder / "summary.json").read_text())
    change(summary, folder)
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def _set(path, value):
    def change(summary, folder):
        record = summary
        for key in path[:-1]:
            record = record[key]
        record[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set(["config", "optimizers"], []), "'optimizers' of 'config' must be a list"),
        (_set(["config", "workloads"], ["rosenbrock", "rosenbrock"]), "'workloads' of 'config'"),
        (_set(["scores", "adam", "score_steps"], 1.5), "'scores' of 'adam' must be scores"),
        (_set(["scores", "sgd"], {"score_steps": 0.1}), "'scores' must be an object"),
        (_set(["steps_to_target", "adam", "rosenbrock"], -3), "'steps_to_target' of 'adam'"),
        (_set(["seconds_to_target", "sgd", "rosenbrock"], "1"), "'seconds_to_target' of 'sgd'"),
        (_set(["cells", 0, "direction"], "up"), "'direction' must be one of"),
        (_set(["cells", 0, "studies", 0, "trial"], -1), "each study must be"),
        (_set(["cells", 1, "optimizer"], "adam"), "one cell per optimizer and workload"),
        (_set(["cells", 0, "target"], None), "'target' must be a finite number"),
        (_set(["workloads", "rosenbrock"], {"metric": ""}), "'workloads' must be an object"),
    ],
)
def test_a_malformed_summary_is_refused_in_one_line(board, tmp_path, change, message):
    folder = _broken(board, tmp_path, change)
    with pytest.raises(RunFolderError) as refused:
        run_section(folder)
    text = str(refused.value)
    assert message in text and "summary.json" in text and "\n" not in text


def test_a_summary_that_is_not_json_or_not_an_object_is_refused(board, tmp_path):
    folder = _broken(board, tmp_path, lambda summary, folder: None)
    (folder / "summary.json").write_text('{"config": NaN}')
    with pytest.raises(RunFolderError, match="summary.json: NaN is not JSON"):
        run_section(folder)
    (folder / "summary.json").write_text("[1, 2]")
    with pytest.raises(RunFolderError, match="the file must be a JSON object"):
        run_section(folder)
    with pytest.raises(ValueError, match="must be a JSON object"):
        check_leaderboard_summary("text", folder / "summary.json")


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda path, curves: path.write_bytes(b"PAR1 not parquet"), "cannot read .* as Parquet"),
        (lambda path, curves: curves.drop(columns="step").to_parquet(path), "missing step"),
        (
            lambda path, curves: curves.assign(step=curves["step"].astype(str)).to_parquet(path),
            "column 'step' must be numbers",
        ),  # fmt: skip
        (
            lambda path, curves: curves[curves["optimizer"] == "adam"].to_parquet(path),
            "curves of every cell of the summary \\(none for 'sgd'",
        ),  # fmt: skip
    ],
)
def test_malformed_curves_are_refused_in_one_line(board, tmp_path, write, message):
    folder = _broken(board, tmp_path, lambda summary, folder: None)
    write(folder / "curves.parquet", pd.read_parquet(board / "curves.parquet"))
    with pytest.raises(RunFolderError, match=message) as refused:
        run_section(folder)
    assert "curves.parquet" in str(refused.value) and "\n" not in str(refused.value)


def test_a_folder_without_the_curves_is_none_the_page_can_show(board, tmp_path):
    folder = _broken(board, tmp_path, lambda summary, folder: None)
    (folder / "curves.parquet").unlink()
    with pytest.raises(RunFolderError, match="nor the summary.json and curves.parquet of a"):
        run_section(folder)


def test_names_from_the_files_are_shown_as_text_never_as_markup(board, tmp_path):
    hostile = '<img src=x onerror="alert(1)">'

    def rename(value):
        if isinstance(value, dict):
            return {rename(key): rename(item) for key, item in value.items()}
        if isinstance(value, list):
            return [rename(item) for item in value]
        return hostile if value == "adam" else value

    folder = _broken(board, tmp_path, lambda summary, folder: summary.update(rename(summary)))
    curves = pd.read_parquet(board / "curves.parquet")
    curves.assign(optimizer=curves["optimizer"].replace("adam", hostile)).to_parquet(
        folder / "curves.parquet"
    )
    section = run_section(folder)
    page = to_html(Report("r", [section]), folder)
    assert hostile not in page and "<img" not in page
    assert html.escape(hostile) in page  # in the tables, as text
    view = next(block for block in section.blocks if isinstance(block, Interactive))
    assert view.data["optimizers"][0] == hostile  # the script sets it as textContent
