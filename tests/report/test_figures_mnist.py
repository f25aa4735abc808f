"""The MNIST figures of jaxopt_lab.report.figures: what is drawn, checked on the figure's data."""

from __future__ import annotations

import numpy as np

from jaxopt_lab.mnist import smooth_curve
from jaxopt_lab.report import figures as plots


def test_loss_figure_draws_the_seeds_smoothed_curves():
    rng = np.random.default_rng(0)
    losses = {name: rng.uniform(0, 1, 300) for name in ("sgd", "momentum", "adagrad", "adam")}
    figure = plots.plot_mnist_losses(losses)
    axes = figure.axes[0]
    lines = axes.get_lines()
    assert [line.get_label() for line in lines] == ["SGD", "Momentum", "AdaGrad", "Adam"]
    assert [line.get_marker() for line in lines] == ["o", "x", "s", "D"]  # the tutorial's markers
    for line, values in zip(lines, losses.values(), strict=True):
        np.testing.assert_array_equal(line.get_xdata(), np.arange(300))
        np.testing.assert_allclose(line.get_ydata(), smooth_curve(values), rtol=1e-12)
    assert axes.get_ylim() == (0.0, 1.0) and axes.get_xlabel() == "iterations"


def test_loss_figure_stops_a_diverged_curve_and_marks_it():
    values = np.r_[np.linspace(1, 0.5, 40), np.nan, np.full(9, np.inf)]
    figure = plots.plot_mnist_losses({"adam:10": values, "sgd": np.full(50, 0.3)})
    line, cross = figure.axes[0].get_lines()[:2]
    assert line.get_label() == "Adam:10 (diverged at 40)"
    assert len(line.get_xdata()) == 40 and np.all(np.isfinite(line.get_ydata()))
    assert cross.get_xdata()[0] == 40 and cross.get_marker() == "x"


def test_sweep_figure_plots_the_mean_over_seeds_on_a_log_axis():
    learning_rates = np.array([1e-3, 1e-2, 1e-1])
    final_loss = np.array([[0.5, 0.7], [0.2, 0.4], [np.nan, 3.0]])
    figure = plots.plot_mnist_sweep(learning_rates, final_loss, label="adam")
    axes = figure.axes[0]
    assert axes.get_xscale() == "log"
    mean_line = next(line for line in axes.get_lines() if "mean" in line.get_label())
    np.testing.assert_allclose(mean_line.get_ydata(), [0.6, 0.3, np.nan])
    diverged = next(line for line in axes.get_lines() if line.get_label() == "diverged")
    np.testing.assert_array_equal(diverged.get_xdata(), [1e-1])
