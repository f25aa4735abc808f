"""The 2-D figures: the tutorial's trajectory panels and the sweep lines and heatmaps.

Figures are checked through what they draw (the plotted data, scales, markers),
not pixels.
"""

from __future__ import annotations

import numpy as np
import pytest

import jaxopt_lab
from jaxopt_lab.report.figures import plot_sweep, plot_trajectories
from jaxopt_lab.two_d import sweep, trajectory


def test_trajectory_figure_has_one_panel_per_optimizer_with_its_path(tmp_path):
    paths = {
        "sgd": np.asarray(trajectory(jaxopt_lab.sgd(0.95), "bowl")),
        "adam": np.asarray(trajectory(jaxopt_lab.adam(0.3), "bowl")),
        "adagrad": np.asarray(trajectory(jaxopt_lab.adagrad(1.5), "bowl")),
    }
    figure = plot_trajectories(paths, "bowl", path=tmp_path / "t.png")
    assert (tmp_path / "t.png").stat().st_size > 10_000
    panels = [axes for axes in figure.axes if axes.get_visible()]
    assert len(panels) == 3
    for panel, (label, path) in zip(panels, paths.items(), strict=True):
        assert panel.get_title().startswith(label)
        line = next(line for line in panel.lines if line.get_label() == "trajectory")
        np.testing.assert_allclose(line.get_xydata(), path)
        minimum = next(line for line in panel.lines if line.get_label() == "minimum")
        np.testing.assert_allclose(minimum.get_xydata(), [[0.0, 0.0]])
        assert panel.get_xlim() == (-10.0, 10.0) and panel.get_ylim() == (-5.0, 5.0)


def test_trajectory_figure_fits_a_user_function_without_a_window():
    def bowl(xy):
        return (xy[0] - 30.0) ** 2 + xy[1] ** 2

    path = np.asarray(trajectory(jaxopt_lab.sgd(0.1), bowl, start=(20.0, 5.0), steps=10))
    figure = plot_trajectories({"sgd": path}, bowl)
    low, high = figure.axes[0].get_xlim()
    assert low < 20.0 and high > path[:, 0].max()


def test_trajectory_figure_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"trajectories\['a'\] must have shape"):
        plot_trajectories({"a": np.zeros((5, 3))}, "bowl")
    with pytest.raises(ValueError, match="at least one"):
        plot_trajectories({}, "bowl")


def test_sweep_lines_use_a_log_axis_mark_the_best_and_the_diverged(tmp_path):
    grid = {"learning_rate": np.geomspace(1e-3, 10.0, 30)}
    results = {"sgd": sweep("sgd", grid, "bowl"), "adam": sweep("adam", grid, "bowl")}
    figure = plot_sweep(results, path=tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 10_000
    (panel,) = figure.axes
    assert panel.get_xscale() == "log" and panel.get_yscale() == "log"
    labels = [line.get_label() for line in panel.lines]
    assert "sgd" in labels and "adam" in labels and "diverged (drawn at top)" in labels
    best_markers = [line for line in panel.lines if line.get_marker() == "*"]
    assert len(best_markers) == 2
    best_sgd, best_loss = results["sgd"].best()
    np.testing.assert_allclose(
        best_markers[0].get_xydata(), [[best_sgd["learning_rate"], best_loss]]
    )
    sgd_line = next(line for line in panel.lines if line.get_label() == "sgd")
    # Diverged runs are cut out of the line (NaN), not drawn as huge losses.
    assert np.isnan(sgd_line.get_ydata()[results["sgd"].diverged]).all()


def test_two_axis_sweep_draws_a_heatmap_with_diverged_cells_masked():
    grid = {"learning_rate": np.geomspace(1e-3, 1.0, 6), "momentum": np.array([0.5, 0.9, 0.99])}
    result = sweep("momentum", grid, "rosenbrock", steps=50)
    assert result.diverged.any() and not result.diverged.all()
    figure = plot_sweep({"momentum": result})
    panel = figure.axes[0]
    (mesh,) = panel.collections
    data = mesh.get_array()
    assert data.shape == (3, 6)  # rows: momentum, columns: learning rate
    np.testing.assert_array_equal(np.ma.getmaskarray(data), result.diverged.T)
    assert panel.get_xscale() == "log" and panel.get_xlabel() == "learning_rate"


def test_plot_sweep_rejects_three_axes_and_mixed_grids():
    three = sweep("adam", {"learning_rate": [0.1], "b1": [0.9], "b2": [0.999]}, "bowl")
    with pytest.raises(ValueError, match="one- or two-axis grids"):
        plot_sweep(three)
    other = sweep("adam", {"b1": [0.9]}, "bowl")
    lr = sweep("adam", {"learning_rate": [0.1]}, "bowl")
    with pytest.raises(ValueError, match="same hyperparameters"):
        plot_sweep({"a": other, "b": lr})


def test_zero_losses_stay_on_a_log_axis_drawn_at_a_floor():
    from jaxopt_lab.two_d import SweepResult

    result = SweepResult(
        axes={"learning_rate": np.array([0.1, 1.0, 10.0])},
        final_loss=np.array([1.0, 1e-3, 0.0]),
        final_position=np.zeros((3, 2)),
        diverged=np.zeros(3, dtype=bool),
        divergence_threshold=1e3,
        problem="bowl",
        steps=30,
        start=(-7.0, 2.0),
    )
    (panel,) = plot_sweep(result).axes
    assert panel.get_yscale() == "log" and "0 drawn at 1.0e-04" in panel.get_ylabel()
    line = next(line for line in panel.lines if line.get_label() == "sweep")
    np.testing.assert_allclose(line.get_ydata(), [1.0, 1e-3, 1e-4])
