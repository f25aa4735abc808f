"""``--data-dir`` of ``tune`` and ``leaderboard``: the MNIST workloads read that folder."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys

import pytest

from jaxopt_lab import cli
from jaxopt_lab.workloads import classification

ROSENBROCK = ["--workload", "rosenbrock", "--optimizer", "sgd", "--trials", "1"]


@pytest.mark.parametrize("command", ["tune", "leaderboard"])
def test_a_data_dir_that_is_not_a_folder_is_one_line_and_exit_2(command, tmp_path, capsys):
    not_a_folder = tmp_path / "mnist.gz"
    not_a_folder.write_text("x")
    argv = [command, *ROSENBROCK, "--data-dir", str(not_a_folder), "--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--data-dir" in line and "is not a folder" in line
    assert not (tmp_path / "o").exists()


def _tune_mnist(data_dir, out, environment) -> subprocess.CompletedProcess:
    # A fresh process: the MNIST workloads cache what they loaded.
    steps = inspect.signature(classification.mnist_mlp).parameters["eval_every"].default
    argv = [sys.executable, "-m", "jaxopt_lab.cli", "tune", "--optimizer", "sgd", "--workload",
            "mnist_mlp", "--trials", "1", "--steps", str(steps), "--data-dir", str(data_dir),
            "--out", str(out)]  # fmt: skip
    return subprocess.run(argv, env=environment, capture_output=True, text=True, timeout=600,
                          check=False)  # fmt: skip


def test_the_mnist_workloads_read_the_data_dir_without_the_environment(mnist_dir, tmp_path):
    environment = {k: v for k, v in os.environ.items() if k != "JAXOPT_LAB_MNIST_DIR"}
    done = _tune_mnist(mnist_dir, tmp_path / "study", environment)
    assert done.returncode == 0, done.stderr
    saved = json.loads((tmp_path / "study" / "study.json").read_text())
    assert saved["config"]["workload"] == "mnist_mlp"
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = _tune_mnist(empty, tmp_path / "none", environment)
    assert missing.returncode == 1
    assert str(empty.resolve()) in missing.stderr and "Traceback" not in missing.stderr
