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

REPO = Path(__file__).resolve().parents[2]
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


@pytest.mark.slow
def test_mnist_killed_and_resumed_matches_an_uninterrupted_run(small_mnist, tmp_path):
    iterations, every = 400, 50
    base = ["mnist", "--optimizer", "sgd", "momentum", "adam", "--iterations", iterations]
    base += ["--data-dir", small_mnist, *SMALL]

    reference = run(*base, "--out", tmp_path / "reference", "--checkpoint-every", every)
    assert reference.returncode == 0, reference.stderr
    expected = json.loads((tmp_path / "reference" / "losses.json").read_text())

    out = tmp_path / "killed"
    process = subprocess.Popen(
        command(*base, "--out", out, "--checkpoint-every", every, "--pause-after-chunk", 0.25),
        cwd=REPO,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + 120
    seen = []
    for line in process.stdout:  # the tutorial's log: a header every 100 iterations
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
    saved_at = int(checkpoint.load(out / "checkpoint.npz")["carry"]["iteration"])
    assert 200 < saved_at < iterations

    # Another checkpoint interval is allowed on resume: the numbers do not depend on it.
    resumed = run(*base, "--out", out, "--resume", "--checkpoint-every", 30)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from iteration {saved_at}" in resumed.stderr
    got = json.loads((out / "losses.json").read_text())
    for name in ("sgd", "momentum", "adam"):
        # JSON floats round-trip exactly: this is a bit-for-bit comparison.
        assert got["losses"][name] == expected["losses"][name], name
    assert got["test_accuracy"] == expected["test_accuracy"]
    # The resumed run logs only the iterations it ran.
    assert "iteration:0=" not in resumed.stdout and "iteration:300=" in resumed.stdout


def test_a_folder_holding_a_checkpoint_is_never_mixed_with_another_run(small_mnist, tmp_path,
                                                                        capsys):  # fmt: skip
    """The issue's case: seed 0 checkpointed, then seed 1 in the same folder, then seed 1
    --resume: each later run is refused with the setting named, and the checkpoint kept."""
    base = ["mnist", "--optimizer", "sgd", "--data-dir", str(small_mnist), *SMALL]
    base += ["--out", str(tmp_path), "--checkpoint-every", "10", "--iterations", "20"]
    assert cli.main(base) == 0
    saved = (tmp_path / "checkpoint.npz").read_bytes()
    capsys.readouterr()
    cases = [
        (["--seed", "1"], "holds the checkpoint of a run at iteration 20 of 20; resume it"),
        (["--seed", "1", "--resume"], "seed: saved 0, now 1"),
        (["--batch-size", "8", "--resume"], "batch_size: saved 16, now 8"),
        (["--optimizer", "sgd:0.1", "--resume"], "optimizers: saved"),
    ]
    for extra, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            cli.main([*base, *extra])
        error = capsys.readouterr().err
        assert exit_info.value.code == 2 and message in error, error
        assert len(error.strip().splitlines()[-1]) > 0 and "Traceback" not in error
    assert (tmp_path / "checkpoint.npz").read_bytes() == saved
    # The same settings, another checkpoint interval: accepted.
    assert cli.main([*base, "--resume", "--checkpoint-every", "5"]) == 0


def test_resume_refuses_a_checkpoint_trained_on_other_data(small_mnist, tmp_path, capsys):
    other = tmp_path / "other_data"
    other.mkdir()
    for file in small_mnist.iterdir():
        other.joinpath(file.name).write_bytes(file.read_bytes())
    labels = bytearray((other / "train-labels-idx1-ubyte").read_bytes())
    labels[8] = (labels[8] + 1) % 10  # one label differs
    (other / "train-labels-idx1-ubyte").write_bytes(bytes(labels))
    base = ["mnist", "--optimizer", "sgd", *SMALL, "--out", str(tmp_path / "run"),
            "--checkpoint-every", "10", "--iterations", "30"]  # fmt: skip
    assert cli.main([*base, "--data-dir", str(small_mnist), "--iterations", "30"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cli.main([*base, "--data-dir", str(other), "--resume"])
    assert "trained on other data" in capsys.readouterr().err


def test_resume_on_a_corrupt_checkpoint_is_one_line_before_loading_data(tmp_path):
    (tmp_path / "checkpoint.npz").write_bytes(b"PK\x03\x04 not a zip at all")
    completed = run("mnist", "--resume", "--out", tmp_path, "--data-dir", tmp_path / "nowhere")
    assert completed.returncode == 2, completed.stderr
    last = completed.stderr.strip().splitlines()[-1]
    assert "cannot resume" in last and "Traceback" not in completed.stderr
    assert "nowhere" not in completed.stderr  # the data were never looked for


@pytest.mark.slow
def test_a_second_process_is_kept_out_of_a_folder_in_use(small_mnist, tmp_path):
    out = tmp_path / "run"
    base = ["mnist", "--optimizer", "sgd", "--iterations", "400", "--data-dir", small_mnist,
            *SMALL, "--out", out]  # fmt: skip
    # The holder pauses a minute after each chunk (it is killed below): under a loaded
    # machine or pytest-xdist the second process's start must not outlast the first's run.
    first = subprocess.Popen(command(*base, "--pause-after-chunk", 60), cwd=REPO,
                             env=environment(), stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        assert first.stdout.readline().startswith("===========iteration:0")  # it trains
        second = run(*base)
        assert second.returncode == 2
        assert f"is in use by another run (process {first.pid})" in second.stderr
    finally:
        first.kill()
        first.wait(timeout=30)
    # The kernel dropped the killed holder's lock: the folder is usable again.
    third = run(*base[:4], "20", *base[5:])
    assert third.returncode == 0, third.stderr


@pytest.mark.parametrize("case", ["a file", "read-only"])
# mounting a read-only tmpfs needs root: where it is refused, that case skips (a CI failure)
def test_an_unusable_out_is_refused_before_loading_data(tmp_path, case):
    if case == "a file":
        out = tmp_path / "taken"
        out.write_text("x")
    else:
        out = _mount(tmp_path / "ro", "size=64k,ro")
        if out is None:
            pytest.skip("cannot mount a read-only tmpfs here (needs root)")
    try:
        completed = run("mnist", "--out", out, "--data-dir", tmp_path / "nowhere")
        assert completed.returncode == 2, completed.stderr
        last = completed.stderr.strip().splitlines()[-1]
        assert "cannot use" in last and "nowhere" not in completed.stderr
    finally:
        if case == "read-only":
            subprocess.run(["umount", str(out)], check=False)


def _mount(path: Path, options: str) -> Path | None:
    """A small tmpfs at ``path`` (root only), or None where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    completed = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                               capture_output=True, check=False)  # fmt: skip
    return path if completed.returncode == 0 else None


@pytest.mark.slow
def test_ctrl_c_while_compiling_exits_cleanly(small_mnist, tmp_path):
    """SIGINT at several moments after start-up (loading the data, compiling, the first
    chunks): never a segmentation fault or a traceback; exit 130 (or 0 if it finished).

    Before, a Ctrl-C while XLA compiled raised KeyboardInterrupt inside JAX's callbacks
    and the interpreter died with SIGSEGV at exit (seen 3 times in 3 on real MNIST)."""
    for delay in (0.0, 0.4, 0.9, 1.5):
        process = subprocess.Popen(
            command("mnist", "--iterations", "300", "--data-dir", small_mnist, *SMALL,
                    "--out", tmp_path / str(delay), "--resume"),
            cwd=REPO, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        # Printed once the command has started (before data and compilation).
        assert "no checkpoint" in process.stderr.readline()
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        _, error = process.communicate(timeout=60)
        assert process.returncode in (130, 0), (delay, process.returncode, error)
        assert "Traceback" not in error and "Segmentation" not in error, error


def test_mnist_reports_a_diverging_optimizer_and_writes_the_rest(small_mnist, tmp_path, capsys):
    status = cli.main(
        ["mnist", "--optimizer", "sgd", "sgd:1e30", "--iterations", "30",
         "--data-dir", str(small_mnist), *SMALL, "--out", str(tmp_path)]
    )  # fmt: skip
    assert status == 0
    error = capsys.readouterr().err
    assert "SGD:1e30 loss became" in error and "at iteration" in error
    summary = json.loads((tmp_path / "losses.json").read_text(), parse_constant=_no_nan)
    first_bad = summary["diverged"]["sgd:1e30"]
    assert summary["losses"]["sgd:1e30"][first_bad] is None
    assert all(value is not None for value in summary["losses"]["sgd"])
    assert summary["test_accuracy"]["sgd:1e30"] is None
    assert summary["test_accuracy"]["sgd"] is not None
    assert (tmp_path / "loss_curves.png").stat().st_size > 10_000


def _no_nan(constant):
    raise AssertionError(f"{constant} is not JSON")


def test_mnist_missing_data_says_how_to_get_it(tmp_path):
    completed = run("mnist", "--source", "idx", "--data-dir", tmp_path, "--out", tmp_path / "o")
    assert completed.returncode == 2
    assert "train-images-idx3-ubyte" in completed.stderr
    assert "JAXOPT_LAB_MNIST_DIR" in completed.stderr


@pytest.mark.parametrize(
    "argv, message",
    [
        (["mnist", "--optimizer", "sgd", "lionn"], "unknown optimizer 'lionn'"),
        (["mnist", "--optimizer", "sgd:-1"], "learning_rate must be"),
        (["mnist", "--optimizer", "sgd", "sgd"], "--optimizer 'sgd' is listed twice"),
        (["mnist", "--iterations", "0"], "argument --iterations: expected an integer in [1,"),
        (["mnist", "--iterations", "1e9"], "argument --iterations: expected an integer in [1,"),
        (["mnist", "--batch-size", "1e7"], "argument --batch-size: expected an integer in [1,"),
        (["mnist", "--seed", "1e20"], "argument --seed: expected an integer in [0,"),
        (["mnist", "--seed", "-1"], "argument --seed"),
        (["mnist", "--checkpoint-every", "0"], "argument --checkpoint-every"),
        (["mnist-sweep", "--seed", "a"], "argument --seed"),
        (["mnist-sweep", "--optimizer", "sgd", "--param", "b1=0.5"], "unknown hyperparameter"),
        (["mnist-sweep", "--optimizer", "sgd", "adam"], "unrecognized arguments: adam"),
        (["demo", "--seed", "4294967296"], "argument --seed"),
        (["check", "--steps", "0"], "argument --steps: expected an integer in [1,"),
        (["bench", "--only", "nope"], "unknown benchmark 'nope'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_before_any_data(argv, message, tmp_path, capsys):
    """The data folder does not exist: an error about it would mean the data were looked for."""
    with pytest.raises(SystemExit) as exit_info:
        extra = [] if argv[0] in ("check", "bench") else ["--out", str(tmp_path / "o")]
        if argv[0] not in ("check", "bench"):
            extra += ["--data-dir", str(tmp_path / "nowhere")]
        cli.main(argv + extra)
    error = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert message in error.strip().splitlines()[-1], error
    assert "nowhere" not in error and not (tmp_path / "o").exists()


def test_mnist_sweep_and_demo_write_their_outputs(small_mnist, tmp_path, capsys):
    status = cli.main(
        ["mnist-sweep", "--optimizer", "sgd", "--param", "learning_rate=0.01,0.1",
         "--seed", "0", "1", "--iterations", "20", "--data-dir", str(small_mnist), *SMALL,
         "--out", str(tmp_path / "sweep")]
    )  # fmt: skip
    assert status == 0
    summary = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert summary["axes"]["learning_rate"] == pytest.approx([0.01, 0.1])
    assert summary["axes"]["seed"] == [0, 1]
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
        assert f"| {name} " in report
    assert (tmp_path / "demo" / "mnist" / "loss_curves.png").exists()
    # The page: the explorer in place of the trajectories figure, the loss curves in place
    # of theirs (the Markdown keeps both figures and says what the page adds).
    page = (tmp_path / "demo" / "report.html").read_text()
    assert page.count('data-view="two_d"') == 1 and page.count('data-view="loss_curves"') == 1
    assert page.count("<img ") == 1  # the sweep figure, embedded
    assert "![trajectories](two_d/trajectories.png)\n\n*Interactive in report.html" in report
    log = capsys.readouterr().out
    assert "===========iteration:0===========" in log and "AdaGrad:" in log


def test_tutorial_log_prints_every_100_iterations_and_divergences():
    import io

    from jaxopt_lab.cli.console import TutorialLog
    from jaxopt_lab.runs.training import ChunkDone

    out, err = io.StringIO(), io.StringIO()
    log = TutorialLog(300, out=out, err=err)
    losses = np.array([[0.5] * 300, [0.25] * 150 + [np.nan] * 150], np.float32)
    log(ChunkDone(0, 100, 300, ["sgd", "adam:0.1"], losses, {}))
    log(ChunkDone(100, 200, 300, ["sgd", "adam:0.1"], losses, {"adam:0.1": 150}))
    assert out.getvalue().splitlines() == [
        "===========iteration:0===========", "SGD:0.5", "Adam:0.1:0.25",
        "===========iteration:100===========", "SGD:0.5", "Adam:0.1:0.25",
    ]  # fmt: skip
    assert "warning: Adam:0.1 loss became nan at iteration 150" in err.getvalue()
    assert log.bar is None  # not a terminal: no progress bar
