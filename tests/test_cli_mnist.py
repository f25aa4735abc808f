"""The mnist, mnist-sweep and demo subcommands, run as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from jaxopt_lab import checkpoint, cli

REPO = Path(__file__).resolve().parents[1]
SMALL = ["--sizes", "784,24,10", "--batch-size", "16"]


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory) -> Path:
    """A 300-image MNIST-shaped IDX folder (random pixels and labels): fast to train on."""
    directory = tmp_path_factory.mktemp("mnist")
    rng = np.random.default_rng(0)
    for name, shape, magic in [
        ("train-images-idx3-ubyte", (300, 28, 28), 0x803),
        ("train-labels-idx1-ubyte", (300,), 0x801),
        ("t10k-images-idx3-ubyte", (50, 28, 28), 0x803),
        ("t10k-labels-idx1-ubyte", (50,), 0x801),
    ]:
        high = 256 if len(shape) == 3 else 10
        array = rng.integers(0, high, shape, dtype=np.uint8)
        header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in shape)
        (directory / name).write_bytes(header + array.tobytes())
    return directory


def command(*arguments) -> list[str]:
    return [sys.executable, "-m", "jaxopt_lab.cli", *map(str, arguments)]


def environment() -> dict:
    return dict(os.environ, PYTHONPATH=str(REPO), JAX_PLATFORMS="cpu")


def run(*arguments, timeout=180) -> subprocess.CompletedProcess:
    return subprocess.run(
        command(*arguments),
        cwd=REPO,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_mnist_killed_and_resumed_matches_an_uninterrupted_run(small_mnist, tmp_path):
    iterations, every = 400, 50
    base = ["mnist", "--optimizers", "sgd,momentum,adam", "--iterations", iterations]
    base += ["--data-dir", small_mnist, "--checkpoint-every", every, *SMALL]

    reference = run(*base, "--out", tmp_path / "reference")
    assert reference.returncode == 0, reference.stderr
    expected = json.loads((tmp_path / "reference" / "losses.json").read_text())

    out = tmp_path / "killed"
    process = subprocess.Popen(
        command(*base, "--out", out, "--pause-after-chunk", 0.25),
        cwd=REPO,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + 120
    seen = []
    for line in process.stdout:  # the seed's log: a header every 100 iterations
        seen.append(line)
        if line.startswith("===========iteration:200"):
            process.send_signal(signal.SIGKILL)
            break
        assert time.monotonic() < deadline, "".join(seen)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "".join(seen)
    assert not (out / "losses.json").exists()  # it really died before finishing
    # The checkpoint is saved before each log line is printed: nothing logged is lost,
    # and at most one checkpoint interval (50 iterations) of work is.
    saved_at = int(checkpoint.load(out / "checkpoint.npz")["iteration"])
    assert 200 < saved_at < iterations

    resumed = run(*base, "--out", out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from iteration {saved_at}" in resumed.stderr
    got = json.loads((out / "losses.json").read_text())
    for name in ("sgd", "momentum", "adam"):
        # JSON floats round-trip exactly: this is a bit-for-bit comparison.
        assert got["losses"][name] == expected["losses"][name], name
    assert got["test_accuracy"] == expected["test_accuracy"]
    # The resumed run logs only the iterations it ran.
    assert "iteration:0=" not in resumed.stdout and "iteration:300=" in resumed.stdout


def test_mnist_resume_refuses_other_settings(small_mnist, tmp_path, capsys):
    base = ["mnist", "--optimizers", "sgd", "--data-dir", str(small_mnist), *SMALL]
    base += ["--out", str(tmp_path), "--checkpoint-every", "10"]
    assert cli.main([*base, "--iterations", "20"]) == 0
    capsys.readouterr()
    assert cli.main([*base, "--iterations", "30", "--resume"]) == 2
    error = capsys.readouterr().err
    assert "iterations" in error and "without --resume" in error


def test_mnist_reports_a_diverging_optimizer_and_writes_the_rest(small_mnist, tmp_path, capsys):
    status = cli.main(
        ["mnist", "--optimizers", "sgd,sgd:1e30", "--iterations", "30",
         "--data-dir", str(small_mnist), *SMALL, "--out", str(tmp_path)]
    )  # fmt: skip
    assert status == 0
    error = capsys.readouterr().err
    assert "SGD:1e30 loss became" in error and "at iteration" in error
    summary = json.loads((tmp_path / "losses.json").read_text())
    first_bad = summary["diverged"]["sgd:1e30"]
    assert summary["losses"]["sgd:1e30"][first_bad] is None
    assert all(value is not None for value in summary["losses"]["sgd"])
    assert summary["test_accuracy"]["sgd:1e30"] is None
    assert summary["test_accuracy"]["sgd"] is not None
    assert (tmp_path / "loss_curves.png").stat().st_size > 10_000


def test_mnist_missing_data_says_how_to_get_it(tmp_path):
    completed = run("mnist", "--source", "idx", "--data-dir", tmp_path, "--out", tmp_path / "o")
    assert completed.returncode == 2
    assert "train-images-idx3-ubyte" in completed.stderr
    assert "JAXOPT_LAB_MNIST_DIR" in completed.stderr


def test_bad_arguments_are_named(capsys):
    with pytest.raises(SystemExit):
        cli.main(["mnist", "--optimizers", "sgd,lionn", "--out", "x"])
    assert "unknown optimizer 'lionn'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["mnist", "--optimizers", "sgd:-1", "--out", "x"])
    assert "learning_rate must be" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["mnist", "--iterations", "0", "--out", "x"])
    assert "--iterations" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["mnist-sweep", "--seeds", "a,b", "--out", "x"])
    assert "--seeds" in capsys.readouterr().err


def test_mnist_sweep_and_demo_write_their_outputs(small_mnist, tmp_path, capsys):
    status = cli.main(
        ["mnist-sweep", "--optimizer", "sgd", "--learning-rates", "0.01,0.1",
         "--seeds", "0,1", "--iterations", "20", "--data-dir", str(small_mnist), *SMALL,
         "--out", str(tmp_path / "sweep")]
    )  # fmt: skip
    assert status == 0
    summary = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert summary["learning_rates"] == pytest.approx([0.01, 0.1])
    assert np.shape(summary["final_loss"]) == (2, 2)
    assert (tmp_path / "sweep" / "sweep.png").exists()

    status = cli.main(
        ["demo", "--iterations", "20", "--data-dir", str(small_mnist), *SMALL,
         "--out", str(tmp_path / "demo")]
    )  # fmt: skip
    assert status == 0
    report = (tmp_path / "demo" / "report.md").read_text()
    assert "![MNIST train loss](mnist/loss_curves.png)" in report
    for name in ("SGD", "Momentum", "AdaGrad", "Adam"):
        assert f"| {name} |" in report
    assert (tmp_path / "demo" / "mnist" / "loss_curves.png").exists()
    log = capsys.readouterr().out
    assert "===========iteration:0===========" in log and "AdaGrad:" in log


def test_progress_bar_shows_count_percentage_and_eta():
    import io

    stream = io.StringIO()
    bar = cli._ProgressBar(200, stream, width=10)
    bar.draw(50)
    time.sleep(0.05)
    bar.draw(100)
    last = stream.getvalue().split("\r")[-1]
    assert "[#####-----] 100/200  50%" in last
    assert "ETA 0:00" in last  # 100 more iterations at ~2000/s
    bar.clear()
    assert stream.getvalue().endswith("\r")
