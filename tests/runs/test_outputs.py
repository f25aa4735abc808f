"""The 2-D commands' result folders: what is written equals what the library computes.

The reference for each file is the public call it records (``jaxopt_lab.trajectory``,
``jaxopt_lab.sweep``), run here independently; positions and losses are compared
exactly (the same compiled program on the same inputs) or to float32 rounding
where the streamed sweep runs the grid in chunks.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import jaxopt_lab
from jaxopt_lab.optimizer_spec import parse_optimizers
from jaxopt_lab.problems import PROBLEMS
from jaxopt_lab.runs.outputs import write_sweeps, write_trajectories
from jaxopt_lab.two_d import TUTORIAL_LEARNING_RATES

PNG = b"\x89PNG\r\n\x1a\n"
STEPS = 12


def test_trajectories_folder_holds_every_position_and_the_figure(tmp_path):
    problem = PROBLEMS["bowl"]
    specs = parse_optimizers(["sgd", "adam:0.5", "momentum:0.05,momentum=0.5"])
    record = write_trajectories(tmp_path, specs, problem, problem.start, STEPS)
    written = json.loads((tmp_path / "trajectories.json").read_text())
    assert written["problem"] == "bowl" and written["steps"] == STEPS
    assert written["start"] == list(problem.start)
    assert list(written["optimizers"]) == ["sgd", "adam:0.5", "momentum:0.05,momentum=0.5"]
    expected = {
        "sgd": jaxopt_lab.sgd(TUTORIAL_LEARNING_RATES["sgd"]),  # no rate given: the tutorial's
        "adam:0.5": jaxopt_lab.adam(0.5),
        "momentum:0.05,momentum=0.5": jaxopt_lab.momentum(0.05, 0.5),
    }
    for label, optimizer in expected.items():
        path = np.asarray(jaxopt_lab.trajectory(optimizer, problem, problem.start, STEPS))
        entry = written["optimizers"][label]
        np.testing.assert_array_equal(np.asarray(entry["positions"], np.float32), path)
        assert entry["final_loss"] == pytest.approx(float(problem.function(path[-1])), rel=1e-6)
        assert record[label]["label"] == entry["label"]
    assert written["optimizers"]["sgd"]["label"] == f"sgd (lr={TUTORIAL_LEARNING_RATES['sgd']:g})"
    assert written["optimizers"]["momentum:0.05,momentum=0.5"]["label"] == (
        "momentum:0.05,momentum=0.5"  # more than a rate: the label as written
    )
    assert (tmp_path / "trajectories.png").read_bytes().startswith(PNG)


def test_sweep_folder_streams_every_point_and_summarises_the_best(tmp_path):
    pyarrow_parquet = pytest.importorskip("pyarrow.parquet")
    problem = PROBLEMS["rosenbrock"]
    grid = {"learning_rate": np.geomspace(1e-4, 1.0, 9), "b1": np.array([0.5, 0.9])}
    (spec,) = parse_optimizers(["adam"])
    summaries = write_sweeps(tmp_path, [spec], grid, problem, problem.start, STEPS, chunk_size=4)
    reference = jaxopt_lab.sweep("adam", grid, problem, problem.start, STEPS)

    table = pyarrow_parquet.read_table(tmp_path / "sweep_adam.parquet").to_pydict()
    assert len(table["learning_rate"]) == 18  # every point of the 9 x 2 grid
    losses = np.asarray(table["final_loss"], np.float64).reshape(9, 2)
    np.testing.assert_allclose(losses, reference.final_loss, rtol=1e-6)

    written = json.loads((tmp_path / "sweep.json").read_text())["adam"]
    assert written["points"] == 18 and written["shape"] == [9, 2]
    assert written["points_file"] == "sweep_adam.parquet" and written["chunk_count"] == 5
    best_index = np.unravel_index(np.nanargmin(reference.final_loss), (9, 2))
    assert written["best"]["hyperparameters"] == pytest.approx(
        {"learning_rate": grid["learning_rate"][best_index[0]], "b1": grid["b1"][best_index[1]]}
    )
    assert summaries["adam"].point_count == 18
    assert (tmp_path / "sweep.png").read_bytes().startswith(PNG)
