"""The training run and its folder: refusals, atomic outputs, a full disk, strict JSON.

Runs use a small network on synthetic data (``tests.test_mnist``): the point is
what the folder holds afterwards. The run-folder cases that involve a second
process (kill, concurrent start, Ctrl-C) are in ``test_cli_mnist.py``.
"""

from __future__ import annotations

import errno
import json
import subprocess
import threading

import numpy as np
import pytest

import jaxopt_lab
from jaxopt_lab import checkpoint, files, mnist
from jaxopt_lab.optimizer_spec import parse_optimizers
from jaxopt_lab.runs.training import RunConfig, RunError, TrainingRun, data_fingerprint
from tests.test_mnist import SMALL_SIZES, synthetic_data

DATA = synthetic_data()


def config(**changes) -> RunConfig:
    settings = dict(optimizers=parse_optimizers(["sgd:0.1", "adam:0.01"]), iterations=30,
                    batch_size=16, seed=0, sizes=SMALL_SIZES)  # fmt: skip
    settings.update(changes)
    return RunConfig(**settings)


def strict_json(path):
    def refuse(constant):
        raise AssertionError(f"{path} holds {constant}: not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


@pytest.mark.slow
def test_a_run_writes_what_compare_computes_and_resumes_bit_for_bit(tmp_path):
    with TrainingRun(tmp_path / "full", config()) as run:
        full = run.train(DATA)
    expected = mnist.compare({"sgd:0.1": jaxopt_lab.sgd(0.1), "adam:0.01": jaxopt_lab.adam(0.01)},
                             DATA, 30, 16, 0, sizes=SMALL_SIZES)  # fmt: skip
    assert full.summary["losses"]["adam:0.01"] == expected.loss_of("adam:0.01").tolist()
    assert strict_json(tmp_path / "full" / "losses.json") == full.summary

    stop = threading.Event()
    with TrainingRun(tmp_path / "part", config(), checkpoint_every=10) as run:

        def stop_after_20(chunk):
            if chunk.done == 20:
                stop.set()

        part = run.train(DATA, stop_after_20, stop)
    assert part.interrupted and part.summary["iterations_done"] == 20
    assert int(checkpoint.load(tmp_path / "part" / "checkpoint.npz")["carry"]["iteration"]) == 20
    # Resumed with another checkpoint interval: the numbers do not depend on it.
    with TrainingRun(tmp_path / "part", config(), checkpoint_every=7, resume=True) as run:
        assert run.start_iteration == 20
        resumed = run.train(DATA)
    assert resumed.summary["losses"] == full.summary["losses"]
    assert resumed.summary["test_accuracy"] == full.summary["test_accuracy"]


def test_the_checkpoint_carries_the_config_and_the_data_fingerprint(tmp_path):
    with TrainingRun(tmp_path, config(), checkpoint_every=10) as run:
        run.train(DATA)
    raw = checkpoint.load(tmp_path / "checkpoint.npz")
    record = json.loads(bytes(np.asarray(raw["run"], np.uint8)).decode())
    assert record["config"] == config().to_dict() and record["data"] == data_fingerprint(DATA)
    # Nothing else in the folder is needed to refuse a mismatch.
    (tmp_path / "losses.json").unlink()
    with pytest.raises(RunError, match=r"seed: saved 0, now 3"):
        TrainingRun(tmp_path, config(seed=3), resume=True).__enter__()
    other = DATA._replace(test_labels=(DATA.test_labels + 1) % 3)
    with TrainingRun(tmp_path, config(), resume=True) as run:
        with pytest.raises(RunError, match="trained on other data"):
            run.train(other)


def test_a_checkpoint_from_another_program_is_refused(tmp_path):
    checkpoint.save(tmp_path / "checkpoint.npz", {"params": np.zeros(3)})
    with pytest.raises(RunError, match="not a checkpoint of a jaxopt-lab mnist run"):
        TrainingRun(tmp_path, config(), resume=True).__enter__()


def test_one_lock_per_folder(tmp_path):
    with TrainingRun(tmp_path, config()):
        with pytest.raises(RunError, match="in use by another run"):
            TrainingRun(tmp_path, config()).__enter__()
    with TrainingRun(tmp_path, config()):  # released on exit
        pass


def test_write_json_refuses_nothing_and_writes_null_for_non_finite(tmp_path):
    files.write_json(tmp_path / "x.json", {"a": float("nan"), "b": [np.float32(np.inf), 1.5],
                                           "c": np.array([1.0, -np.inf])})  # fmt: skip
    assert strict_json(tmp_path / "x.json") == {"a": None, "b": [None, 1.5], "c": [1.0, None]}


def _write_failing_after(monkeypatch, failures: int):
    """Make os.fsync fail with ENOSPC in files.write_atomic (as a full disk would)."""
    real = files.os.fsync
    state = {"calls": 0}

    def fsync(descriptor):
        state["calls"] += 1
        if state["calls"] > failures:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(descriptor)

    monkeypatch.setattr(files.os, "fsync", fsync)


def _mount_small_tmpfs(path, size="160k"):
    path.mkdir()
    completed = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                               capture_output=True, check=False)  # fmt: skip
    return completed.returncode == 0


@pytest.mark.parametrize("disk", ["small file system", "injected failure"])
def test_a_full_disk_leaves_the_previous_losses_json_whole(tmp_path, monkeypatch, disk):
    """On a real 160 kB file system, and with the write failing as a full disk makes it fail.

    Mounting needs root: where it is refused, the real case skips, saying so (a failure
    under CI), rather than quietly running the injected case a second time.
    """
    folder = tmp_path / "small"
    mounted = disk == "small file system" and _mount_small_tmpfs(folder)
    if disk == "small file system" and not mounted:
        pytest.skip("cannot mount a 160 kB tmpfs here (needs root): no real full disk to test")
    if not mounted:
        folder.mkdir(exist_ok=True)
    try:
        with TrainingRun(folder, config(iterations=20)) as run:
            first = run.train(DATA)
        before = (folder / "losses.json").read_bytes()
        if mounted:  # fill the disk, leaving less than a new losses.json needs
            free = files.os.statvfs(folder).f_bavail * files.os.statvfs(folder).f_frsize
            (folder / "filler").write_bytes(b"\0" * max(0, free - 12 * 1024))
        else:
            _write_failing_after(monkeypatch, 1)  # the writable-folder probe passes
        with pytest.raises(OSError) as error, TrainingRun(folder, config(iterations=400)) as run:
            run.train(DATA)
        assert error.value.errno == errno.ENOSPC
        assert (folder / "losses.json").read_bytes() == before  # whole, the old run's
        assert strict_json(folder / "losses.json") == first.summary
        assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=False)


def test_config_validates_its_values():
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*32\)"):
        config(seed=2**32)
    with pytest.raises(ValueError, match="iterations must be a positive integer"):
        config(iterations=0)
    with pytest.raises(ValueError, match="at least one optimizer"):
        config(optimizers=())
    assert RunConfig.from_dict(config().to_dict()) == config()
