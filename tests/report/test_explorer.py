"""The interactive report's data: the explorer's trajectories against unswept runs and the
tutorial's NumPy classes, the MNIST views against their run folders, the errors."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

import jaxopt_lab
from jaxopt_lab import mnist
from jaxopt_lab.optimizer_spec import parse_optimizer, parse_optimizers
from jaxopt_lab.report import explorer
from jaxopt_lab.report.document import Interactive, to_html
from jaxopt_lab.runs.outputs import write_mnist_sweep
from jaxopt_lab.runs.training import RunConfig, TrainingRun
from jaxopt_lab.two_d import TUTORIAL_LEARNING_RATES, trajectory
from tests.test_mnist import SMALL_SIZES, synthetic_data
from tests.test_two_d import seed_reference_trajectory

DATA = synthetic_data()


@pytest.fixture(scope="module")
def small() -> explorer.TwoDExplorer:
    """Three optimizers (one with a fixed setting) on two problems, 12 rates, 15 steps."""
    specs = ["sgd", "momentum:0.05", "adam:b1=0.5"]
    return explorer.explore_two_d(specs, ["bowl", "rosenbrock"], np.geomspace(1e-3, 3.0, 12), 15)


def test_the_explorer_holds_every_position_of_every_run(small):
    assert small.problems == ("bowl", "rosenbrock")
    assert small.labels == ["sgd", "momentum:0.05", "adam:b1=0.5"]
    # 12 rates plus the presets sgd 0.95 and momentum 0.05 (adam's 0.3 for b1=0.5: the tutorial's)
    assert small.learning_rates.dtype == np.float32 and len(small.learning_rates) == 15
    assert np.all(np.diff(small.learning_rates) > 0)
    assert small.trajectories.shape == (2, 3, 15, 16, 2)
    rates = small.learning_rates
    assert rates[small.presets["sgd"]] == np.float32(0.95)
    assert rates[small.presets["momentum:0.05"]] == np.float32(0.05)
    assert rates[small.presets["adam:b1=0.5"]] == np.float32(0.3)
    makers = [jaxopt_lab.sgd, jaxopt_lab.momentum, lambda lr: jaxopt_lab.adam(lr, b1=0.5)]
    for p, problem in enumerate(small.problems):
        for o, make in enumerate(makers):
            for n in (0, 7, small.presets[small.labels[o]], 14):
                expected = np.asarray(trajectory(make(rates[n]), problem, steps=15))
                # float32, batched against unbatched: a few ulps of the coordinates' scale.
                np.testing.assert_allclose(small.trajectories[p, o, n], expected,
                                           rtol=1e-5, atol=1e-5)  # fmt: skip
                final = expected[-1]
                loss = float(jaxopt_lab.PROBLEMS[problem].function(final))
                assert small.final_loss[p, o, n] == pytest.approx(
                    loss, rel=1e-5, abs=1e-6, nan_ok=True
                )
    assert small.diverged[0, 0, -1] and not small.diverged[0, 0, small.presets["sgd"]]


def test_the_tutorial_presets_draw_the_tutorial_figure(x64):
    # In float64 the explorer's rows are the tutorial's NumPy classes' runs to 1e-12.
    result = explorer.explore_two_d(["sgd", "momentum", "adagrad", "adam"], ["bowl"], [1e-2, 1.0])
    for o, name in enumerate(["sgd", "momentum", "adagrad", "adam"]):
        n = result.presets[name]
        assert result.learning_rates[n] == TUTORIAL_LEARNING_RATES[name]
        np.testing.assert_allclose(result.trajectories[0, o, n],
                                   seed_reference_trajectory(name, TUTORIAL_LEARNING_RATES[name]),
                                   rtol=0, atol=1e-12)  # fmt: skip


def test_the_view_carries_the_arrays_and_each_problem_s_drawing(small):
    view = small.view()
    assert isinstance(view, Interactive) and view.view == "two_d"
    data = view.data
    assert data["trajectories"] is small.trajectories and data["steps"] == 15
    assert [o["preset"] for o in data["optimizers"]] == list(small.presets.values())
    assert data["preset_problem"] == "bowl"
    bowl, rosenbrock = data["problems"]
    assert bowl["window"] == [-10.0, 10.0, -5.0, 5.0] and rosenbrock["f_star"] == 0.0
    # The contour lines lie on their levels: decode the packed window coordinates.
    packed = bowl["contours"]["xy"].reshape(-1, 2)
    points = packed[packed[:, 0] != 65535].astype(np.float64) / 65534
    x, y = -10 + 20 * points[:, 0], -5 + 10 * points[:, 1]
    values = x**2 / 20 + y**2
    levels = np.asarray(bowl["contours"]["levels"])
    nearest = np.min(np.abs(values[:, None] - levels[None, :]), axis=1)
    # Linear interpolation on a 121-point grid and 1/65534 rounding: within 2% of the level.
    assert np.all(nearest <= 0.02 * levels.max())
    assert len(levels) == explorer.CONTOUR_LEVELS
    saddle = explorer._problem_record(jaxopt_lab.PROBLEMS["saddle"])
    assert saddle["f_star"] == -0.25


def test_the_page_s_size_is_what_embedded_bytes_says(small):
    page = to_html(explorer.explore_report(small))
    expected = explorer.embedded_bytes(2, 3, 15, 15)
    block = page.split('"trajectories":{"__array__":', 1)[1]
    assert len(json.loads(block.split("}", 1)[0] + "}")["base64"]) == expected


def test_stop_ends_the_explorer_between_its_programs():
    stop = threading.Event()
    stop.set()
    assert explorer.explore_two_d(["sgd"], ["bowl"], [0.1, 0.2], 5, stop=stop) is None


def test_bad_arguments_get_clear_errors():
    with pytest.raises(ValueError, match="at least one optimizer"):
        explorer.explore_two_d([], ["bowl"])
    with pytest.raises(ValueError, match="an optimizer is listed twice in"):
        explorer.explore_two_d(["sgd", "adam", "sgd"], ["bowl"])
    with pytest.raises(ValueError, match="at least one problem"):
        explorer.explore_two_d(["sgd"], [])
    with pytest.raises(ValueError, match="unknown problem 'bowll'"):
        explorer.explore_two_d(["sgd"], ["bowll"])
    with pytest.raises(ValueError, match="unknown optimizer 'sgdd'"):
        explorer.explore_two_d(["sgdd"], ["bowl"])
    with pytest.raises(ValueError, match="0 < low < high"):
        explorer.learning_rate_grid(1.0, 0.1, 10)


def test_preset_rates_come_from_the_spec_else_the_figure_rates():
    assert explorer.preset_learning_rate(parse_optimizer("adam:0.01")) == 0.01
    assert explorer.preset_learning_rate(parse_optimizer("adagrad")) == 1.5
    assert explorer.preset_learning_rate(parse_optimizer("lion")) == 0.1  # its figure rate


# --------------------------------------------------------------------------- MNIST


def test_loss_curves_view_is_the_run_s_losses_and_the_tutorial_s_smoothing(tmp_path):
    config = RunConfig(parse_optimizers(["sgd:0.1", "adam:0.01"]), 40, 16, 0, SMALL_SIZES)
    with TrainingRun(tmp_path / "run", config) as run:
        summary = run.train(DATA).summary
    series = explorer.loss_curves_view(summary).data["series"]
    assert [s["label"] for s in series] == ["SGD:0.1", "Adam:0.01"]
    for s, label in zip(series, ["sgd:0.1", "adam:0.01"], strict=True):
        raw = np.float32(summary["losses"][label])
        np.testing.assert_array_equal(s["raw"], raw)
        np.testing.assert_allclose(s["smoothed"], mnist.smooth_curve(raw), rtol=1e-6)

    diverged = dict(summary, losses={"sgd:0.1": [1.0] * 20 + [None] * 20,
                                     "adam:0.01": summary["losses"]["adam:0.01"]})  # fmt: skip
    curve = explorer.loss_curves_view(diverged).data["series"][0]
    np.testing.assert_allclose(curve["smoothed"][:20], mnist.smooth_curve(np.ones(20)))
    assert np.all(np.isnan(curve["smoothed"][20:])) and np.all(np.isnan(curve["raw"][20:]))

    section = explorer.run_section(tmp_path / "run")
    assert section.title == "MNIST: SGD:0.1, Adam:0.01"
    assert [type(b).__name__ for b in section.blocks] == ["Paragraph", "Interactive", "Table"]
    assert section.blocks[2].rows[1][0] == "Adam:0.01"
    (tmp_path / "demo").mkdir()
    (tmp_path / "run").rename(tmp_path / "demo" / "mnist")  # a demo's folder: its mnist/
    assert explorer.run_section(tmp_path / "demo").title == section.title


def test_mnist_sweep_view_is_loss_against_rate_per_seed(tmp_path):
    grid = {"learning_rate": np.array([0.01, 0.1, 1.0])}
    result = write_mnist_sweep(tmp_path, parse_optimizer("sgd"), grid, DATA, 20, 16, [0, 3],
                               SMALL_SIZES)  # fmt: skip
    section = explorer.run_section(tmp_path)
    view = section.blocks[0]
    assert view.view == "mnist_sweep" and section.title == "MNIST sweep: SGD, 20 iterations"
    data = view.data
    assert data["axis"] == "learning_rate" and data["seeds"] == [0, 3] and data["log_x"]
    np.testing.assert_array_equal(data["values"], np.float32([0.01, 0.1, 1.0]))
    np.testing.assert_allclose(data["final_loss"], result.final_loss, rtol=1e-6)
    np.testing.assert_allclose(data["test_accuracy"], result.test_accuracy, rtol=1e-6)
    assert len(section.blocks[1].rows) == 3

    # Two swept axes: the mean over the second, per seed.
    record = {"optimizer": "adam", "iterations": 5, "axes": {
        "learning_rate": [0.1, 0.2], "b1": [0.5, 0.9], "seed": [0]},
        "final_loss": [[[1.0], [3.0]], [[None], [2.0]]],
        "test_accuracy": [[[0.5], [0.7]], [[0.1], [0.3]]]}  # fmt: skip
    two_axes = explorer.mnist_sweep_view(record).data
    assert two_axes["others"] == ["b1"]
    np.testing.assert_array_equal(two_axes["final_loss"], np.float32([[2.0], [np.nan]]))
    np.testing.assert_allclose(two_axes["test_accuracy"], [[0.6], [0.2]])


def test_a_folder_without_a_run_is_refused_with_what_it_lacks(tmp_path):
    with pytest.raises(
        explorer.RunFolderError,
        match="neither the losses.json .*, the sweep.json .*, nor the summary.json and",
    ):
        explorer.run_section(tmp_path)
    (tmp_path / "sweep.json").write_text(json.dumps({"adam": {"problem": "bowl"}}))  # a 2-D sweep
    with pytest.raises(explorer.RunFolderError, match="neither"):
        explorer.run_section(tmp_path)
    (tmp_path / "losses.json").write_text("{not json")
    with pytest.raises(explorer.RunFolderError, match="cannot read .*losses.json"):
        explorer.run_section(tmp_path)
    (tmp_path / "losses.json").write_text("{}")
    with pytest.raises(explorer.RunFolderError, match="not the losses.json of a jaxopt-lab run"):
        explorer.run_section(tmp_path)
