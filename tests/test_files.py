"""The files the lab writes: atomic replacement, strict JSON, the folder lock, Parquet streams."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from jaxopt_lab import files


def leftovers(folder) -> list[str]:
    """Temporary files an atomic write left behind (none, ever)."""
    return sorted(name for name in os.listdir(folder) if name.endswith(".tmp"))


def test_atomic_file_replaces_the_file_whole(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with files.atomic_file(path) as file:
        file.write(b"new ")
        assert path.read_bytes() == b"old"  # readers see the old file until the block ends
        file.write(b"content")
    assert path.read_bytes() == b"new content"
    assert leftovers(tmp_path) == []


def test_an_error_in_the_block_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="half way"):
        with files.atomic_file(path) as file:
            file.write(b"partial")
            raise RuntimeError("half way")
    assert path.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_a_full_disk_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "out.json"
    files.write_json(path, {"kept": 1})

    def no_space(descriptor):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", no_space)
    with pytest.raises(OSError, match="No space"):
        files.write_atomic(path, b"{}")
    assert json.loads(path.read_text()) == {"kept": 1}
    assert leftovers(tmp_path) == []


def test_atomic_files_get_the_umasks_mode(tmp_path):
    umask = os.umask(0o022)
    try:
        files.write_atomic(tmp_path / "a", b"x")
    finally:
        os.umask(umask)
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o644  # not mkstemp's 0o600


def test_json_is_strict_non_finite_numbers_become_null():
    value = {
        "nan": float("nan"),
        "array": np.array([1.0, np.inf, -np.inf]),
        "scalar": np.float32(0.5),
        "integer": np.int64(3),
        "nested": ({"key": np.nan},),
        1: "keys become strings",
    }
    assert files.json_safe(value) == {
        "nan": None,
        "array": [1.0, None, None],
        "scalar": 0.5,
        "integer": 3,
        "nested": [{"key": None}],
        "1": "keys become strings",
    }
    assert type(files.json_safe(np.int64(3))) is int


def test_write_json_writes_what_json_reads_back(tmp_path):
    path = tmp_path / "summary.json"
    files.write_json(path, {"loss": np.array([0.5, np.nan]), "steps": 10})
    text = path.read_text()
    assert "NaN" not in text and text.endswith("\n")
    assert json.loads(text) == {"loss": [0.5, None], "steps": 10}


def test_writable_folder_is_created_and_a_file_is_refused(tmp_path):
    folder = files.check_writable_folder(tmp_path / "a" / "b")
    assert folder.is_dir() and list(folder.iterdir()) == []  # the probe is gone
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        files.check_writable_folder(tmp_path / "file")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
@pytest.mark.ci_may_skip
def test_read_only_folder_is_refused_with_the_reason(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(OSError, match="is not writable"):
            files.check_writable_folder(folder)
    finally:
        folder.chmod(0o755)


def test_folder_lock_keeps_a_second_holder_out_until_released(tmp_path):
    with files.FolderLock(tmp_path):
        assert (tmp_path / ".lock").read_text() == str(os.getpid())
        # flock locks belong to the open file: a second open, even here, is refused.
        with pytest.raises(
            files.FolderBusyError, match=rf"in use by another run \(process {os.getpid()}\)"
        ):
            with files.FolderLock(tmp_path):
                pass
    with files.FolderLock(tmp_path):  # released: free again
        pass


def test_parquet_stream_writes_row_groups_and_renames_on_close(tmp_path):
    pyarrow_parquet = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "points.parquet"
    stream = files.ParquetStream(path)
    stream.write({"learning_rate": np.array([0.1, 0.2]), "loss": np.array([1.0, np.nan])})
    assert not path.exists()  # only the temporary file exists while it is written
    stream.write({"learning_rate": np.array([0.3]), "loss": np.array([0.5])})
    stream.close()
    table = pyarrow_parquet.read_table(path)
    assert pyarrow_parquet.ParquetFile(path).num_row_groups == 2
    np.testing.assert_array_equal(table["learning_rate"].to_numpy(), [0.1, 0.2, 0.3])
    np.testing.assert_array_equal(table["loss"].to_numpy(), [1.0, np.nan, 0.5])
    assert leftovers(tmp_path) == []


def test_parquet_stream_abort_leaves_nothing(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "points.parquet"
    stream = files.ParquetStream(path)
    stream.write({"x": np.arange(3.0)})
    stream.abort()
    assert not path.exists() and leftovers(tmp_path) == []
