"""A sweep streamed to Parquet: every point written, in grid order, equal to the in-memory
sweep; a bounded sample; nothing partial left behind."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxopt_lab.runs.streamed_sweep import SAMPLE_POINTS, sweep_to_file
from jaxopt_lab.two_d import sweep


def test_sweep_to_file_streams_every_point_and_keeps_a_bounded_sample(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")  # a core dependency a bare GPU machine may lack
    grid = {"learning_rate": np.geomspace(1e-3, 3.0, 40), "b1": np.array([0.5, 0.9, 0.99])}
    whole = sweep("adam", grid, "saddle", steps=20, chunk_size=16)  # the same programs
    path = tmp_path / "points.parquet"
    summary = sweep_to_file("adam", grid, "saddle", path, steps=20, chunk_size=16,
                            sample_points=30)  # fmt: skip
    table = pq.read_table(path)
    assert table.num_rows == 120 and table.column_names == [
        "learning_rate", "b1", "final_loss", "final_x", "final_y", "diverged"
    ]  # fmt: skip
    columns = table.to_pydict()
    np.testing.assert_array_equal(np.reshape(columns["final_loss"], (40, 3)), whole.final_loss)
    np.testing.assert_array_equal(np.reshape(columns["diverged"], (40, 3)), whole.diverged)
    assert summary.best == whole.best() and summary.diverged_count == int(whole.diverged.sum())
    assert summary.sample.final_loss.size <= 30 and summary.sample.best() == whole.best()
    assert summary.sample.chunk_count == 8
    assert [p.name for p in tmp_path.iterdir()] == ["points.parquet"]  # no temporary left
    json.dumps(summary.to_dict(), allow_nan=False)
    assert SAMPLE_POINTS <= 10**6


def test_an_interrupted_stream_leaves_no_partial_file(tmp_path, monkeypatch):
    pytest.importorskip("pyarrow")  # sweep_to_file writes Parquet
    from jaxopt_lab import files

    calls = []

    def failing_write(self, columns):
        calls.append(len(columns["final_loss"]))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        original(self, columns)

    original = files.ParquetStream.write
    monkeypatch.setattr(files.ParquetStream, "write", failing_write)
    with pytest.raises(OSError, match="No space left"):
        sweep_to_file("sgd", {"learning_rate": np.linspace(0.1, 0.5, 10)}, "bowl",
                      tmp_path / "p.parquet", chunk_size=4)  # fmt: skip
    assert list(tmp_path.iterdir()) == []
