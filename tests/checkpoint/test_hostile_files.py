"""Hostile files in a run folder: each is refused in one line, in bounded memory and time.

The corpus: a ``checkpoint.npz`` that is a symlink to ``/dev/zero``, a FIFO, a
directory; well-formed checkpoints with crafted run records; a lying manifest;
a truncated file; a zip bomb and a gzip bomb. Each goes through
``checkpoint.load`` (and the run-record check) and through a CLI run
(``jaxopt-lab mnist --resume``), which must exit 2 with one ``error:`` line before
it looks for any data. Then the folder's lock (never followed, never truncated
unless the lab wrote it, taken by every command that writes a folder) and full
disks (``ENOSPC`` injected, ``EFBIG`` from a real file-size limit): one line
naming the file, exit 1, the previous result whole.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from bombs import gzip_zeros

from jaxopt_lab import checkpoint, cli, files
from jaxopt_lab.optimizer_spec import parse_optimizers
from jaxopt_lab.runs.training import RunConfig, TrainingRun, read_run_record
from tests.checkpoint.test_checkpoint import (
    BOMB_BYTES,
    deflated_zeros,
    manifest_member,
    npy_header,
    stored,
    with_record,
    zip_bytes,
)
from tests.test_mnist import SMALL_SIZES, synthetic_data

REPO = Path(__file__).resolve().parents[1]
TIME_LIMIT = 10.0  # seconds, for each refusal (the bound); they take milliseconds
PEAK_LIMIT = 300 * 2**20  # bytes above the baseline (the bound)
SIZES = "784,24,10"  # the command line's networks take MNIST's 784 inputs
ARGUMENTS = ["--optimizer", "sgd:0.1", "adam:0.01", "--iterations", "30", "--batch-size", "16",
             "--sizes", SIZES]  # fmt: skip


def run_config() -> RunConfig:
    return RunConfig(parse_optimizers(["sgd:0.1", "adam:0.01"]), iterations=30, batch_size=16,
                     seed=0, sizes=SMALL_SIZES)  # fmt: skip


@pytest.fixture(scope="module")
def genuine(tmp_path_factory) -> Path:
    """A run folder whose checkpoint.npz a real run saved at iteration 10 (of 30)."""
    folder = tmp_path_factory.mktemp("genuine")
    data = synthetic_data()

    def stop_at_10(chunk):
        if chunk.done == 10:
            raise KeyboardInterrupt

    with TrainingRun(folder, run_config(), checkpoint_every=10) as run:
        run.train(data, stop_at_10)
    return folder / "checkpoint.npz"


def resave(genuine: Path, target: Path, *, record=None, carry=None, drop=()) -> None:
    """The genuine checkpoint with its run record and/or carry replaced: a well-formed file."""
    raw = checkpoint.load(genuine)
    if record is not None:
        text = record if isinstance(record, str) else json.dumps(record)
        raw["run"] = np.frombuffer(text.encode(), np.uint8)
    if carry is not None:
        raw["carry"] = carry
    checkpoint.save(target, {k: v for k, v in raw.items() if k not in drop})


def genuine_record(genuine: Path) -> dict:
    return json.loads(bytes(np.asarray(checkpoint.load(genuine)["run"])).decode())


def _symlink_to_dev_zero(genuine, path):
    path.symlink_to("/dev/zero")


def _fifo(genuine, path):
    os.mkfifo(path)


def _directory(genuine, path):
    path.mkdir()


def _truncated(genuine, path):
    content = genuine.read_bytes()
    path.write_bytes(content[: len(content) // 2])


def _lying_manifest(genuine, path):
    """A manifest that says the leaf holds 2^40 float32; the member holds 16 bytes."""
    leaf = np.arange(4, dtype=np.float32)
    manifest = json.loads(_zip_member(genuine, "manifest.json"))
    manifest = {**manifest, "leaves": manifest["leaves"][:1],
                "structure": {"dict": [["w", "str"]], "children": [{"leaf": 0}]}}  # fmt: skip
    record = {"dtype": "float32", "shape": [2**40],
              "sha256": hashlib.sha256(leaf.tobytes()).hexdigest()}  # fmt: skip
    path.write_bytes(zip_bytes([
        manifest_member(with_record(manifest, **record)),
        stored("leaf_000000.npy", npy_header("<f4", (2**40,)) + leaf.tobytes()),
    ]))  # fmt: skip


def _zip_member(path: Path, name: str) -> bytes:
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return archive.read(name)


def _zip_bomb(genuine, path):
    manifest = json.loads(_zip_member(genuine, "manifest.json"))
    path.write_bytes(zip_bytes([
        deflated_zeros("manifest.json", json.dumps(manifest).encode(), BOMB_BYTES),
    ]))  # fmt: skip


def _gzip_bomb(genuine, path):
    path.write_bytes(gzip_zeros(genuine.read_bytes()[:64], BOMB_BYTES))


def _deep_record(genuine, path):
    resave(genuine, path, record='{"format": 1, "config": ' + "[" * 100_000 + "]" * 100_000 + "}")


def _no_carry(genuine, path):
    resave(genuine, path, drop=("carry",))


def _no_data(genuine, path):
    record = genuine_record(genuine)
    del record["data"]
    resave(genuine, path, record=record)


def _array_iteration(genuine, path):
    carry = checkpoint.load(genuine)["carry"]
    resave(genuine, path, carry={**carry, "iteration": np.arange(3, dtype=np.int32)})


def _integer_label(genuine, path):
    record = genuine_record(genuine)
    record["config"]["optimizers"][0]["label"] = 5
    record["config"]["sizes"] = "784,24"
    resave(genuine, path, record=record)


def _iteration_past_the_end(genuine, path):
    carry = checkpoint.load(genuine)["carry"]
    resave(genuine, path, carry={**carry, "iteration": np.int32(10**6)})


CORPUS = {
    "symlink to /dev/zero": (_symlink_to_dev_zero, r"links to /dev/zero, which is a character"),
    "FIFO": (_fifo, r"is a FIFO; a checkpoint is a regular file"),
    "directory": (_directory, r"is a directory; a checkpoint is a regular file"),
    "truncated": (_truncated, r"truncated or not a checkpoint"),
    "lying manifest": (_lying_manifest, r"declares 4398046511104 bytes of data"),
    "zip bomb": (_zip_bomb, r"manifest\.json is compressed"),
    "gzip bomb": (_gzip_bomb, r"truncated or not a checkpoint"),
    "deeply nested record": (_deep_record, r"run record is not JSON"),
    "no carry": (_no_carry, r"not 'run' and 'carry'"),
    "no data fingerprint": (_no_data, r"no data fingerprint"),
    "array iteration": (_array_iteration, r"no scalar integer 'iteration'"),
    "integer label": (_integer_label, r"its config is not valid"),
    "iteration past the end": (_iteration_past_the_end, r"iteration 1000000 is outside \[0, 30\]"),
}


def load_and_check(path: Path) -> None:
    """What a resume does with a file before any work: load it, check its run record."""
    read_run_record(checkpoint.load(path), path)


@pytest.mark.parametrize("case", CORPUS)
def test_each_hostile_checkpoint_is_one_checkpoint_error(genuine, tmp_path, case):
    make, expected = CORPUS[case]
    path = tmp_path / "checkpoint.npz"
    make(genuine, path)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(checkpoint.CheckpointError, match=expected) as error:
            load_and_check(path)
    finally:
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    message = str(error.value)
    assert "\n" not in message and len(message) < 600, message[:700]
    assert peak < PEAK_LIMIT and elapsed < TIME_LIMIT, (case, peak / 2**20, elapsed)


def test_a_structure_mismatch_is_a_few_short_lines(tmp_path):
    """Two large trees that part deep inside: the message shows where, not 2 kB of each."""
    tree = {f"layer_{i:03d}": {"w": np.zeros(2), "b": np.zeros(1)} for i in range(200)}
    checkpoint.save(tmp_path / "c.npz", tree)
    like = {**tree, "layer_150": (np.zeros(2), np.zeros(1))}  # a tuple where a dict was
    with pytest.raises(checkpoint.CheckpointError, match="tree structure") as error:
        checkpoint.load(tmp_path / "c.npz", like=like)
    lines = str(error.value).splitlines()
    assert len(lines) <= 5 and all(len(line) < 400 for line in lines), lines
    assert any("layer_150" in line for line in lines)  # the window is where they part


def test_the_genuine_checkpoint_passes_the_same_checks(genuine):
    record, saved, done = read_run_record(checkpoint.load(genuine), genuine)
    assert saved == run_config() and done == 10 and record["format"] == 1


DRIVER = """
import os, resource, sys
from jaxopt_lab.cli import main
if "FILE_SIZE_LIMIT" in os.environ:  # Python ignores SIGXFSZ: a write past it gets EFBIG
    limit = int(os.environ["FILE_SIZE_LIMIT"])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    status = main(sys.argv[1:])
except SystemExit as exit_:
    status = exit_.code
print(f"maxrss_kb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
sys.exit(status)
"""


def cli_run(*arguments, file_size_limit=None, timeout=120):
    """The CLI in a fresh process (under a file-size limit, if given); the completed
    process and its peak RSS in bytes."""
    limit = {} if file_size_limit is None else {"FILE_SIZE_LIMIT": str(file_size_limit)}
    completed = subprocess.run(
        [sys.executable, "-c", DRIVER, *map(str, arguments)], cwd=REPO, capture_output=True,
        text=True, timeout=timeout,
        env=dict(os.environ, PYTHONPATH=str(REPO), JAX_PLATFORMS="cpu", **limit),
    )  # fmt: skip
    lines = completed.stderr.strip().splitlines()
    rss = int(lines.pop().removeprefix("maxrss_kb=")) * 1024
    completed.stderr = "\n".join(lines)
    return completed, rss


@pytest.fixture(scope="module")
def baseline_rss(tmp_path_factory) -> int:
    """The peak RSS of a resume refused for a plain reason (a folder with no checkpoint
    and a bad --iterations would exit at parsing; this one imports what a resume does)."""
    folder = tmp_path_factory.mktemp("baseline")
    (folder / "checkpoint.npz").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip
    completed, rss = cli_run("mnist", "--resume", *ARGUMENTS, "--out", folder,
                             "--data-dir", folder / "nowhere")  # fmt: skip
    assert completed.returncode == 2, completed.stderr
    return rss


@pytest.mark.slow
def test_each_hostile_checkpoint_ends_a_cli_resume_in_one_line(genuine, tmp_path, baseline_rss):
    """Every file of the corpus through ``jaxopt-lab mnist --resume``, each in its own
    process: exit 2, one ``error:`` line, no traceback, no data looked for, bounded
    RSS and time."""
    for case, (make, _) in CORPUS.items():
        folder = tmp_path / case.replace(" ", "_").replace("/", "_")
        folder.mkdir()
        make(genuine, folder / "checkpoint.npz")
        start = time.perf_counter()
        completed, rss = cli_run("mnist", "--resume", *ARGUMENTS, "--out", folder,
                                 "--data-dir", tmp_path / "nowhere")  # fmt: skip
        elapsed = time.perf_counter() - start
        last = completed.stderr.strip().splitlines()[-1]
        assert completed.returncode == 2, (case, completed.stderr[-2000:])
        assert "Traceback" not in completed.stderr and "cannot resume" in last, (case, last)
        assert "nowhere" not in completed.stderr, case  # refused before the data
        assert rss - baseline_rss < PEAK_LIMIT, (case, (rss - baseline_rss) / 2**20)
        assert elapsed < 6 * TIME_LIMIT, (case, elapsed)  # a fresh process imports JAX first


# --------------------------------------------------------------------------- the lock


def lock_of(folder: Path) -> files.FolderLock:
    return files.FolderLock(folder)


@pytest.mark.parametrize("kind", ["symlink", "hard link", "FIFO", "foreign content"])
def test_the_lock_never_follows_or_truncates_a_file_the_lab_did_not_write(tmp_path, kind):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    folder = tmp_path / "run"
    folder.mkdir()
    lock = folder / ".lock"
    if kind == "symlink":
        lock.symlink_to(victim)
    elif kind == "hard link":
        os.link(victim, lock)
    elif kind == "FIFO":
        os.mkfifo(lock)
    else:
        lock.write_text("not a pid: somebody's notes\n")
    before = lock.read_bytes() if kind == "foreign content" else None
    start = time.perf_counter()
    with pytest.raises(files.LockFileError, match="not a lock file the lab wrote") as error:
        lock_of(folder).__enter__()
    assert time.perf_counter() - start < TIME_LIMIT and "\n" not in str(error.value)
    assert victim.read_text() == "precious\n"
    if before is not None:
        assert lock.read_bytes() == before


def test_a_symlinked_lock_ends_a_cli_run_in_one_line_and_spares_the_victim(tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / ".lock").symlink_to(victim)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["mnist", "--out", str(folder), *ARGUMENTS, "--data-dir",
                  str(tmp_path / "nowhere")])  # fmt: skip
    assert exit_info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "is not a lock file the lab wrote (a symlink)" in last
    assert victim.read_text() == "precious\n"


def test_the_lab_rewrites_its_own_lock_file(tmp_path):
    (tmp_path / ".lock").write_text("12345")  # a lock a crashed run left
    with lock_of(tmp_path):
        assert (tmp_path / ".lock").read_text() == str(os.getpid())
    with lock_of(tmp_path):  # and again, once released
        pass


@pytest.mark.parametrize(
    "arguments",
    [
        ["sweep", "--param", "learning_rate=0.01:0.1:3", "--steps", "3"],
        ["trajectories", "--steps", "3"],
        [
            "mnist-sweep",
            "--iterations",
            "2",
            "--sizes",
            SIZES,
            "--seed",
            "0",
            "--param",
            "learning_rate=0.01",
        ],
        ["explore", "--problem", "bowl", "--learning-rates", "0.01:0.1:2", "--steps", "2"],
    ],
    ids=["sweep", "trajectories", "mnist-sweep", "explore"],
)
def test_every_command_that_writes_a_folder_takes_its_lock(tmp_path, capsys, arguments):
    folder = tmp_path / "out"
    folder.mkdir()
    data = ["--data-dir", str(tmp_path / "nowhere")] if arguments[0] == "mnist-sweep" else []
    with lock_of(folder), pytest.raises(SystemExit) as exit_info:
        cli.main([*arguments, "--out", str(folder), *data])
    assert exit_info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "is in use by another run" in last, last
    assert sorted(p.name for p in folder.iterdir()) == [".lock"]  # nothing written


# --------------------------------------------------------------------------- full disks


def contents(folder: Path) -> dict[str, bytes]:
    """Each file of a result folder and its bytes (not the lock, which holds a process id)."""
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name != ".lock"}


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_while_staging_changes_nothing_and_says_so(tmp_path, monkeypatch):
    with files.Result(tmp_path) as result:
        result.add("a.json", b'{"run": 1}\n')
        result.add("b.png", b"png of run 1")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real = files._write_temporary
    calls = {"n": 0}

    def second_write_fails(path, data):
        calls["n"] += 1
        if calls["n"] == 2:
            no_space()
        return real(path, data)

    monkeypatch.setattr(files, "_write_temporary", second_write_fails)
    with pytest.raises(files.WriteError) as error, files.Result(tmp_path) as result:
        result.add("a.json", b'{"run": 2}\n')
        result.add("b.png", b"png of run 2")
    message = str(error.value)
    assert error.value.errno == errno.ENOSPC and "\n" not in message
    assert f"cannot write {tmp_path / 'b.png'} (No space left on device)" in message
    assert f"nothing in {tmp_path} was changed" in message
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temp left


def test_a_crash_between_the_renames_never_pairs_two_runs(tmp_path, monkeypatch):
    with files.Result(tmp_path) as result:
        result.add("a.json", b"run 1 a")
        result.add("b.png", b"run 1 b")
    real = os.replace
    calls = {"n": 0}

    def rename_fails_second(source, target):
        if Path(target).name == "b.png":
            calls["n"] += 1
            no_space()  # as if the process died here: a.json is new, b.png old
        return real(source, target)

    monkeypatch.setattr(files.os, "replace", rename_fails_second)
    with pytest.raises(files.WriteError, match="names the new files"):
        with files.Result(tmp_path) as result:
            result.add("a.json", b"run 2 a")
            result.add("b.png", b"run 2 b")
    monkeypatch.undo()
    assert files.read_result_file(tmp_path / "a.json", 100) == b"run 2 a"
    with pytest.raises(files.MixedResultError, match="mixes files of two runs"):
        files.read_result_file(tmp_path / "b.png", 100)  # the old run's: refused


def test_a_full_disk_in_a_cli_run_is_one_line_exit_1(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    argv = ["trajectories", "--steps", "3", "--optimizer", "sgd", "adam", "--out", str(out)]
    assert cli.main(argv) == 0
    capsys.readouterr()
    before = contents(out)
    monkeypatch.setattr(files, "_write_temporary", no_space)
    assert cli.main(argv[:-1] + [str(out)]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "cannot write" in error[0] and "was changed" in error[0], error
    assert contents(out) == before


@pytest.mark.slow  # a fresh process each, which imports JAX
@pytest.mark.parametrize("command", ["trajectories", "sweep"])
def test_a_file_size_limit_is_one_line_exit_1_and_the_old_result_whole(tmp_path, command):
    """EFBIG from a real RLIMIT_FSIZE (no root needed): the figure (tens of kB) is over it."""
    out = tmp_path / "out"
    argv = [command, "--steps", "3", "--out", out]
    if command == "sweep":
        argv += ["--param", "learning_rate=0.01:0.1:4"]
    assert cli.main(list(map(str, argv))) == 0
    before = contents(out)
    completed, _ = cli_run(*argv, file_size_limit=8 * 1024)
    assert completed.returncode == 1, completed.stderr[-2000:]
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "(File too large)" in lines[0], lines
    assert f"nothing in {out} was changed" in lines[0]
    assert contents(out) == before


def test_a_full_disk_at_a_checkpoint_keeps_the_previous_one(tmp_path, genuine, monkeypatch):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "checkpoint.npz").write_bytes(genuine.read_bytes())
    before = (folder / "checkpoint.npz").read_bytes()
    real = os.fsync

    def fsync(descriptor):  # the writable-folder probe passes; the checkpoint's fails
        if os.fstat(descriptor).st_size > 1000:
            no_space()
        return real(descriptor)

    monkeypatch.setattr(files.os, "fsync", fsync)
    with pytest.raises(files.WriteError) as error:
        with TrainingRun(folder, run_config(), checkpoint_every=10, resume=True) as run:
            run.train(synthetic_data())
    expected = "checkpoint.npz (No space left on device); the previous checkpoint.npz is unchanged"
    assert expected in str(error.value)
    assert (folder / "checkpoint.npz").read_bytes() == before
