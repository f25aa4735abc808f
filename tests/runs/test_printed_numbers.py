"""Every number a run's report prints, against its definition.

``final_mean_loss`` is "the mean train loss of the last 100 iterations" (the
column header says so); the mnist-sweep table's cells are means over seeds. A
summary whose final loss came from the first 100 iterations passed every test
before (a survivor of the outside audit).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxopt_lab.optimizer_spec import parse_optimizers
from jaxopt_lab.report import Table, explorer
from jaxopt_lab.runs.training import LOG_EVERY, RESULT_HEADERS, RunConfig, result_rows, summarize


def _losses(iterations: int) -> np.ndarray:
    """Two curves whose first, middle and last 100 iterations all have different means."""
    t = np.arange(iterations)
    return np.stack([2.3 * np.exp(-t / 150.0) + 0.01 * np.sin(t),
                     1.9 * np.exp(-t / 60.0) + 0.05]).astype(np.float32)  # fmt: skip


def test_the_header_names_the_window_the_mean_is_taken_over():
    assert LOG_EVERY == 100 and RESULT_HEADERS[1] == "mean train loss, last 100 iterations"


@pytest.mark.parametrize("iterations", [250, 100, 60])
def test_final_mean_loss_is_the_mean_of_the_last_100_iterations(iterations):
    losses = _losses(iterations)
    config = RunConfig(parse_optimizers(["sgd", "adam"]), iterations, 128, 0)
    summary = summarize(config, losses, [0.9, 0.8])
    for i, label in enumerate(["sgd", "adam"]):
        last = losses[i].astype(np.float64)[-100:]  # all of them, below 100
        assert summary["final_mean_loss"][label] == pytest.approx(last.mean(), rel=1e-6)
        if iterations > 100:
            assert abs(last.mean() - losses[i, :100].mean()) > 1e-2  # the window matters here
    rows = result_rows(summary)
    assert [row[1] for row in rows] == [f"{losses[i, -100:].astype(np.float64).mean():.4f}"
                                        for i in range(2)]  # fmt: skip
    assert [row[2] for row in rows] == ["0.9000", "0.8000"]


def test_a_diverged_run_prints_nan_mean_and_diverged():
    losses = _losses(150)
    losses[1, 120:] = np.nan
    config = RunConfig(parse_optimizers(["sgd", "adam"]), 150, 128, 0)
    summary = json.loads(json.dumps(summarize(config, losses, [0.9, None])))
    assert summary["final_mean_loss"]["adam"] is None  # NaN, written as null
    assert result_rows(summary)[1][1:] == ["n/a", "diverged"]


def test_the_sweep_table_prints_each_value_s_mean_over_seeds(tmp_path):
    record = {
        "optimizer": "sgd", "iterations": 500,
        "axes": {"learning_rate": [0.001, 0.01, 0.1], "seed": [0, 7]},
        "final_loss": [[2.1, 2.2], [0.4, 0.45], [None, 0.3]],
        "test_accuracy": [[0.3, 0.28], [0.88, 0.87], [0.1, 0.91]],
    }  # fmt: skip
    (tmp_path / "sweep.json").write_text(json.dumps(record))
    section = explorer.run_section(tmp_path)
    (table,) = [block for block in section.blocks if isinstance(block, Table)]
    expected = [["0.001", f"{(2.1 + 2.2) / 2:.4f}", f"{(0.3 + 0.28) / 2:.4f}"],
                ["0.01", f"{(0.4 + 0.45) / 2:.4f}", f"{(0.88 + 0.87) / 2:.4f}"],
                ["0.1", "0.3000", f"{(0.1 + 0.91) / 2:.4f}"]]  # fmt: skip
    assert table.rows == expected
