"""``jaxopt-lab tune``: the folder it writes, resume, and each bad input as one line, exit 2."""

import json

import pandas as pd
import pytest

from jaxopt_lab.cli import main

FAST = ["--optimizer", "adam", "--workload", "rosenbrock", "--steps", "100", "--trials", "4"]


def test_tune_writes_the_study_its_best_trial_curves_and_figure(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["tune", *FAST, "--studies", "2", "--halving", "2", "--out", str(out)]) == 0
    study = json.loads((out / "study.json").read_text())
    curves = pd.read_parquet(out / "curves.parquet")
    best = json.loads((out / "best_trial.json").read_text())
    assert set(curves["study"]) == {0, 1} and study["config"]["halving"] == 2
    # Halving 4 trials by 2 over 5 evaluations: 4 lanes to evaluation 2, 2 to 4 (round(5/2)=2,
    # round(5/4)=1 -> (1, 2, 5) with lanes (4, 2, 1)): 4*1 + 2*1 + 1*3 = 9 of 20 evaluations.
    assert study["lane_steps"] == 2 * 9 * 20 and study["full_lane_steps"] == 2 * 4 * 100
    final = curves[curves["step"] == 100]
    assert best["validation_metric"] == pytest.approx(final["validation_metric"].min())
    assert (out / "sensitivity.png").stat().st_size > 0
    assert "lane-steps 360 of 800" in capsys.readouterr().out


def test_tune_refuses_a_finished_folder_and_resume_reads_it_back(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["tune", *FAST, "--out", out]) == 0
    first = capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        main(["tune", *FAST, "--out", out])
    assert stop.value.code == 2 and "--resume" in capsys.readouterr().err
    assert main(["tune", *FAST, "--out", out, "--resume"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == first.splitlines()[0]
    with pytest.raises(SystemExit):
        main(["tune", *FAST[:-1], "3", "--out", out, "--resume"])
    assert "other settings (trials: saved 4, now 3)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--trials", "0"], "--trials"),
        (["--workload", "cifar"], "--workload: unknown 'cifar'"),
        (["--optimizer", "adamz"], "--optimizer: unknown 'adamz'"),
        (["--space", "{missing}"], "--space: search space file"),
        (["--space", "{bad}"], "--space"),
        (["--space", "{momentum}"], "momentum"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, change, message):
    bad = tmp_path / "bad.json"
    bad.write_text('{"learning_rate": {"min": 1, "max": 0.1, "scaling": "log"}}')
    momentum = tmp_path / "momentum.json"
    momentum.write_text('[{"learning_rate": 0.1, "momentum": 0.9}]')
    paths = {"{missing}": str(tmp_path / "none.json"), "{bad}": str(bad),
             "{momentum}": str(momentum)}  # fmt: skip
    change = [paths.get(value, value) for value in change]
    arguments = dict(zip(FAST[::2], FAST[1::2], strict=True))
    arguments.update(dict(zip(change[::2], change[1::2], strict=True)))
    argv = ["tune", *[item for pair in arguments.items() for item in pair], "--out",
            str(tmp_path / "out")]  # fmt: skip
    with pytest.raises(SystemExit) as stop:
        main(argv)
    error = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and message in error[-1]
    assert not (tmp_path / "out" / "study.json").exists()
