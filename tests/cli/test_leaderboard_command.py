"""``jaxopt-lab leaderboard``: a small real run, its resume, and every bad input (exit 2)."""

from __future__ import annotations

import json

import pytest

from jaxopt_lab import cli
from jaxopt_lab.workloads import get_workload

BUDGET = 3 * get_workload("rosenbrock").eval_every  # three evaluations
SMALL = ["--optimizer", "sgd", "adam", "--workload", "rosenbrock", "--trials", "2",
         "--studies", "1", "--steps", f"rosenbrock={BUDGET}"]  # fmt: skip


def _refused(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["leaderboard", *argv])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2, error
    assert "Traceback" not in error
    return error.strip().splitlines()[-1]


def test_a_small_leaderboard_runs_and_resumes(tmp_path, capsys):
    out = tmp_path / "board"
    assert cli.main(["leaderboard", *SMALL, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "score (steps)" in printed and "| sgd" in printed and "| adam" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["scores"]) == {"sgd", "adam"}
    assert len(summary["cells"]) == 2
    # its report, written last, and the same section in explore's page (--run)
    assert str(out / "report.html") in printed and (out / "report.md").is_file()
    page = tmp_path / "page"
    explore = ["explore", "--problem", "saddle", "--optimizer", "sgd", "--learning-rates",
               "1e-2:1:3", "--steps", "4", "--run", str(out), "--out", str(page)]  # fmt: skip
    assert cli.main(explore) == 0
    assert 'data-view="leaderboard"' in (page / "report.html").read_text()
    capsys.readouterr()
    # again without --resume: refused, nothing lost
    before = (out / "summary.json").read_bytes()
    assert "holds a leaderboard already" in _refused([*SMALL, "--out", str(out)], capsys)
    assert (out / "summary.json").read_bytes() == before
    # other settings with --resume: refused, naming the setting
    line = _refused([*SMALL, "--seed", "3", "--out", str(out), "--resume"], capsys)
    assert "seed: saved 0, now 3" in line
    # --resume with the same settings: every cell is read back, the outputs rewritten
    assert cli.main(["leaderboard", *SMALL, "--out", str(out), "--resume"]) == 0
    assert json.loads((out / "summary.json").read_text())["scores"] == summary["scores"]


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    out = ["--out", str(tmp_path / "board")]
    bad_space = tmp_path / "bad.json"
    bad_space.write_text('{"learning_rate": {"min": 1.0, "max": 0.1, "scaling": "log"}}')
    empty = tmp_path / "empty.json"
    empty.write_text('{"beta2": {"feasible_points": []}}')
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"learning_rate": {"feasible_points": [0.1]}, '
                       '"beta2": {"feasible_points": [0.9]}}')  # fmt: skip
    cases = [
        (["--workload", "imagenet"], "workload: unknown 'imagenet'"),
        (["--optimizer", "adamz"], "optimizer: unknown 'adamz'"),
        (["--trials", "0"], "--trials"),
        (["--studies", "0"], "--studies"),
        (["--space", str(bad_space)], "'learning_rate': min 1 > max 0.1"),
        (["--space", f"adam={empty}"], "'beta2': feasible_points is empty"),
        (["--space", str(tmp_path / "missing.json")], "missing.json"),
        (["--steps", "rosenbrock=ten"], "--steps: expected WORKLOAD=N"),
        (["--steps", f"rosenbrock={BUDGET + 1}"], "not a multiple of its evaluation interval"),
    ]
    for extra, message in cases:
        line = _refused([*SMALL, *extra, *out], capsys)
        assert message in line, (extra, line)
    # a hyperparameter sgd lacks: refused before any study runs
    line = _refused([*SMALL, "--space", f"sgd={foreign}", *out], capsys)
    assert "sgd has no hyperparameter 'beta2'" in line
    assert not (tmp_path / "board" / "cells").exists()
    file_out = tmp_path / "a_file"
    file_out.write_text("x")
    assert "is a file" in _refused([*SMALL, "--out", str(file_out)], capsys)
