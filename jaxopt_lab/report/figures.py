"""Every figure of the lab. Functions return a ``matplotlib.figure.Figure`` and,
given ``path``, also save it as a PNG. Figures are built without pyplot (no
global figure registry, nothing to close, no window, no backend switch); PNGs are
written by Agg.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from jaxopt_lab.problems import Function2D, Problem, as_problem
from jaxopt_lab.two_d import SweepResult


def _save(figure: Figure, path: str | Path | None) -> Figure:
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=120, bbox_inches="tight")
    return figure


DISPLAY_NAMES = {
    "sgd": "SGD",
    "momentum": "Momentum",
    "nesterov": "Nesterov",
    "adagrad": "AdaGrad",
    "rmsprop": "RMSprop",
    "adam": "Adam",
    "adamw": "AdamW",
}
"""How the tutorial writes each optimizer's name in its figures and logs."""


def display_name(name: str) -> str:
    """``"adam"`` -> ``"Adam"``; ``"adam:0.01"`` -> ``"Adam:0.01"``; unknown names unchanged."""
    base, separator, rest = name.partition(":")
    return DISPLAY_NAMES.get(base, base) + separator + rest


# --------------------------------------------------------------------------- MNIST


MNIST_MARKERS = {"sgd": "o", "momentum": "x", "adagrad": "s", "adam": "D"}
"""The tutorial's markers; other optimizers cycle through ``_EXTRA_MARKERS``."""
_EXTRA_MARKERS = ("^", "v", "P", "*", "<", ">", "h")


def plot_mnist_losses(
    losses: Mapping[str, Sequence[float] | np.ndarray],
    *,
    smooth: bool = True,
    markevery: int = 100,
    ylim: tuple[float, float] | None = (0.0, 1.0),
    title: str | None = None,
) -> Figure:
    """The tutorial's loss-curve figure: train loss against iteration, one line per optimizer.

    Each curve is smoothed with the tutorial's ``smooth_curve`` (a Kaiser window of
    11, beta 2; :func:`jaxopt_lab.mnist.smooth_curve`) and marked every
    ``markevery`` iterations with the tutorial's markers; the y axis is cut at
    ``ylim`` as in the tutorial (``None``: automatic). A curve that becomes NaN or
    infinite is drawn up to there and ends with a red cross.
    """
    from jaxopt_lab.mnist import smooth_curve

    figure = Figure(figsize=(7, 4.5), layout="constrained")
    axes = figure.subplots()
    extra_markers = iter(_EXTRA_MARKERS * 4)
    for name, values in losses.items():
        values = np.asarray(values, np.float64)
        finite = np.isfinite(values)
        end = values.size if finite.all() else int(np.argmin(finite))
        curve = smooth_curve(values[:end]) if smooth else values[:end]
        marker = MNIST_MARKERS.get(name.partition(":")[0]) or next(extra_markers)
        (line,) = axes.plot(
            np.arange(end), curve, marker=marker, markevery=markevery, label=display_name(name)
        )
        if end < values.size:
            last = curve[-1] if end else (ylim[1] if ylim else 0.0)
            axes.plot([end], [min(last, ylim[1]) if ylim else last], "x", color="red", ms=10)
            line.set_label(f"{display_name(name)} (diverged at {end})")
    axes.set_xlabel("iterations")
    axes.set_ylabel("loss")
    if ylim is not None:
        axes.set_ylim(*ylim)
    if title:
        axes.set_title(title)
    axes.legend()
    return figure


def plot_mnist_sweep(
    learning_rates: Sequence[float] | np.ndarray,
    final_loss: np.ndarray,
    *,
    label: str = "",
    title: str | None = None,
    axis_name: str = "learning rate",
) -> Figure:
    """Final train loss against learning rate (or the hyperparameter ``axis_name``).

    ``final_loss[learning_rate, ...]``: one faint point per seed (and per value
    of any other axis) and a line through their mean; log x axis for positive
    values. Non-finite losses (diverged runs) are shown as red crosses at the top.
    """
    learning_rates = np.asarray(learning_rates, np.float64)
    final_loss = np.asarray(final_loss, np.float64).reshape(learning_rates.size, -1)
    figure = Figure(figsize=(6, 4), layout="constrained")
    axes = figure.subplots()
    finite = np.isfinite(final_loss)
    for seed_index in range(final_loss.shape[1]):
        ok = finite[:, seed_index]
        axes.plot(learning_rates[ok], final_loss[ok, seed_index], ".", color="gray", alpha=0.5)
    with np.errstate(invalid="ignore"):
        mean = np.where(finite.all(axis=1), final_loss.mean(axis=1), np.nan)
    axes.plot(learning_rates, mean, "o-", label=f"{display_name(label)} (mean over seeds)")
    if not finite.all():
        top = np.nanmax(np.where(finite, final_loss, np.nan)) if finite.any() else 1.0
        bad = ~finite.all(axis=1)
        axes.plot(learning_rates[bad], np.full(bad.sum(), top), "x", color="red", label="diverged")
    if np.all(learning_rates > 0):
        axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel(axis_name.replace("_", " "))
    axes.set_ylabel("final train loss")
    if title:
        axes.set_title(title)
    axes.legend()
    return figure


# --------------------------------------------------------------------------- 2-D figures


def _window(problem: Problem, trajectories: list[np.ndarray]) -> tuple[tuple, tuple]:
    """The problem's plotting window, or one fitted to the finite positions and minima."""
    if problem.xlim is not None and problem.ylim is not None:
        return problem.xlim, problem.ylim
    points = [p[np.all(np.isfinite(p), axis=-1)] for p in trajectories]
    points += [np.asarray(problem.minima, dtype=np.float64).reshape(-1, 2)]
    points = np.concatenate(points) if points else np.zeros((0, 2))
    if points.size == 0:
        points = np.array([[-1.0, -1.0], [1.0, 1.0]])
    low, high = points.min(axis=0), points.max(axis=0)
    margin = np.maximum(0.1 * (high - low), 0.5)
    low, high = low - margin, high + margin
    xlim = problem.xlim or (float(low[0]), float(high[0]))
    ylim = problem.ylim or (float(low[1]), float(high[1]))
    return xlim, ylim


def _contour_levels(values: np.ndarray, count: int = 14) -> np.ndarray:
    """Levels at quantiles of ``values``, so each function gets readable contours."""
    finite = values[np.isfinite(values)]
    levels = np.unique(np.quantile(finite, np.linspace(0.0, 0.9, count) ** 2))
    return levels if levels.size >= 2 else np.linspace(finite.min(), finite.max() + 1e-12, 3)


def plot_trajectories(
    trajectories: Mapping[str, Any],
    problem: Problem | str | Function2D,
    *,
    path: str | Path | None = None,
    columns: int | None = None,
    title: str | None = None,
) -> Figure:
    """The tutorial's figure: one panel per optimizer, its trajectory over the contours of f.

    Args:
      trajectories: ``{label: positions}``, each positions array of shape
        ``(steps + 1, 2)`` as :func:`jaxopt_lab.trajectory` returns.
      problem: the problem the trajectories ran on (contours, window, minima).
      path: where to save the PNG (optional).
      columns: panels per row; default 2 for up to four panels, else 3.
      title: the figure's title; default the problem's description.
    """
    problem = as_problem(problem)
    if not trajectories:
        raise ValueError("trajectories must hold at least one {label: positions} entry")
    positions = {
        label: np.asarray(value, dtype=np.float64) for label, value in trajectories.items()
    }
    for label, value in positions.items():
        if value.ndim != 2 or value.shape[1] != 2:
            raise ValueError(
                f"trajectories[{label!r}] must have shape (steps + 1, 2), got {value.shape}"
            )
    columns = columns or (2 if len(positions) <= 4 else 3)
    rows = -(-len(positions) // columns)
    xlim, ylim = _window(problem, list(positions.values()))
    x, y = np.meshgrid(np.linspace(*xlim, 250), np.linspace(*ylim, 250))
    z = problem.values_on_grid(x, y)
    levels = _contour_levels(z)

    figure = Figure(figsize=(4.6 * columns, 3.9 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    for panel, (label, path_xy) in zip(axes.flat, positions.items(), strict=False):
        panel.contourf(x, y, z, levels=levels, cmap="Blues_r", alpha=0.35, extend="max")
        panel.contour(x, y, z, levels=levels, colors="steelblue", linewidths=0.6, alpha=0.8)
        panel.plot(
            path_xy[:, 0],
            path_xy[:, 1],
            "o-",
            color="crimson",
            markersize=3.5,
            linewidth=1.2,
            label="trajectory",
        )
        panel.plot(*path_xy[0], "s", color="black", markersize=6, label="start")
        for index, minimum in enumerate(problem.minima):
            panel.plot(
                *minimum,
                "+",
                color="black",
                markersize=14,
                markeredgewidth=2.2,
                label="minimum" if index == 0 else None,
            )
        final = path_xy[-1]
        final_loss = float(problem.values_on_grid(final[:1], final[1:])[0])
        outcome = f"f(final) = {final_loss:.3g}" if np.isfinite(final_loss) else "diverged"
        panel.set_title(f"{label}   {outcome}", fontsize=10)
        panel.set_xlim(xlim)
        panel.set_ylim(ylim)
        panel.set_xlabel("x")
        panel.set_ylabel("y")
    for panel in list(axes.flat)[len(positions) :]:
        panel.set_visible(False)
    axes.flat[0].legend(loc="upper right", fontsize=8, framealpha=0.9)
    steps = max(len(p) for p in positions.values()) - 1
    figure.suptitle(title or f"{problem.description or problem.name}, {steps} steps")
    return _save(figure, path)


def _is_log_axis(values: np.ndarray) -> bool:
    return bool(np.all(values > 0) and values.max() / values.min() >= 20)


def _cell_edges(values: np.ndarray, log: bool) -> np.ndarray:
    """Edges of cells centred on sorted ``values`` (geometric midpoints on a log axis)."""
    centres = np.log10(values) if log else values.astype(np.float64)
    if centres.size == 1:
        edges = np.array([centres[0] - 0.5, centres[0] + 0.5])
    else:
        middle = (centres[1:] + centres[:-1]) / 2
        edges = np.concatenate(
            [[2 * centres[0] - middle[0]], middle, [2 * centres[-1] - middle[-1]]]
        )
    return 10.0**edges if log else edges


def _log_floor(finite_losses: np.ndarray) -> float | None:
    """For non-negative losses with some above 0, the value at which to draw zeros on
    a log scale (a tenth of the smallest positive loss); ``None``: use a linear scale."""
    positive = finite_losses[finite_losses > 0]
    if positive.size == 0 or np.any(finite_losses < 0):
        return None
    return float(positive.min()) / 10


def _plot_sweep_lines(results: Mapping[str, SweepResult], title: str | None) -> Figure:
    figure = Figure(figsize=(7.5, 4.8), layout="constrained")
    panel = figure.subplots()
    (name,) = next(iter(results.values())).axes
    finite_losses = np.concatenate(
        [r.final_loss[~r.diverged].astype(np.float64) for r in results.values()]
    )
    floor = _log_floor(finite_losses)
    log_loss = floor is not None
    clipped = log_loss and bool(np.any(finite_losses <= 0))
    if finite_losses.size:
        top = float(finite_losses.max())
        top = top * 3 if log_loss else top + 0.1 * (abs(top) + 1)
    else:
        top = 1.0
    diverged_labelled = False
    for label, result in results.items():
        values = result.axes[name].astype(np.float64)
        order = np.argsort(values)
        values = values[order]
        losses = result.final_loss.astype(np.float64)[order]
        if log_loss:
            losses = np.maximum(losses, floor)
        diverged = result.diverged[order]
        (line,) = panel.plot(values, np.where(diverged, np.nan, losses), "-", label=label)
        if np.any(diverged):
            panel.plot(
                values[diverged],
                np.full(diverged.sum(), top),
                "x",
                color=line.get_color(),
                markersize=5,
                label=None if diverged_labelled else "diverged (drawn at top)",
            )
            diverged_labelled = True
        if not np.all(diverged):
            best, best_loss = result.best()
            best_loss = max(best_loss, floor) if log_loss else best_loss
            panel.plot(
                best[name],
                best_loss,
                "*",
                color=line.get_color(),
                markersize=14,
                markeredgecolor="black",
            )
            panel.annotate(
                f"{best[name]:.3g}",
                (best[name], best_loss),
                textcoords="offset points",
                xytext=(6, -12),
                fontsize=8,
            )
    all_values = np.concatenate([r.axes[name] for r in results.values()])
    if np.all(all_values > 0):
        panel.set_xscale("log")
    if log_loss:
        panel.set_yscale("log")
    panel.set_xlabel(name)
    panel.set_ylabel(f"final loss (0 drawn at {floor:.1e})" if clipped else "final loss")
    panel.grid(True, which="major", alpha=0.3)
    panel.legend(fontsize=8)
    first = next(iter(results.values()))
    panel.set_title(
        title or f"{first.problem}: final loss after {first.steps} steps (★ best)", fontsize=11
    )
    return figure


def _plot_sweep_heatmaps(results: Mapping[str, SweepResult], title: str | None) -> Figure:
    count = len(results)
    figure = Figure(figsize=(5.4 * count, 4.6), layout="constrained")
    axes = figure.subplots(1, count, squeeze=False)
    for panel, (label, result) in zip(axes.flat, results.items(), strict=False):
        (x_name, x_values), (y_name, y_values) = result.axes.items()
        x_values, y_values = x_values.astype(np.float64), y_values.astype(np.float64)
        x_order, y_order = np.argsort(x_values), np.argsort(y_values)
        x_values, y_values = x_values[x_order], y_values[y_order]
        losses = result.final_loss.astype(np.float64)[np.ix_(x_order, y_order)]
        diverged = result.diverged[np.ix_(x_order, y_order)]
        finite = losses[~diverged]
        floor = _log_floor(finite)
        log_loss = floor is not None
        if log_loss:
            shown = np.log10(np.maximum(np.where(diverged, 1.0, losses), floor))
        else:
            shown = losses
        shown = np.ma.masked_array(shown, mask=diverged)
        x_log, y_log = _is_log_axis(x_values), _is_log_axis(y_values)
        colormap = matplotlib.colormaps["viridis"].with_extremes(bad="lightgray")
        mesh = panel.pcolormesh(
            _cell_edges(x_values, x_log),
            _cell_edges(y_values, y_log),
            shown.T,
            cmap=colormap,
            shading="flat",
        )
        figure.colorbar(mesh, ax=panel, label="log10 final loss" if log_loss else "final loss")
        if x_log:
            panel.set_xscale("log")
        if y_log:
            panel.set_yscale("log")
        if not np.all(diverged):
            best, best_loss = result.best()
            panel.plot(
                best[x_name],
                best[y_name],
                "*",
                color="red",
                markersize=15,
                markeredgecolor="white",
                label=f"best {best_loss:.3g} at ({best[x_name]:.3g}, {best[y_name]:.3g})",
            )
        if np.any(diverged):
            panel.plot([], [], "s", color="lightgray", label="diverged")
        panel.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
        panel.set_xlabel(x_name)
        panel.set_ylabel(y_name)
        panel.set_title(label, fontsize=10)
    first = next(iter(results.values()))
    figure.suptitle(title or f"{first.problem}: final loss after {first.steps} steps")
    return figure


def plot_sweep(
    results: SweepResult | Mapping[str, SweepResult],
    *,
    path: str | Path | None = None,
    title: str | None = None,
) -> Figure:
    """Final loss over a sweep: lines for one-axis grids, heatmaps for two-axis grids.

    One axis: final loss against the hyperparameter (log axis when it is
    positive), one line per optimizer, the best setting starred, diverged runs
    drawn as crosses along the top. Two axes: one heatmap per optimizer, cells
    of diverged runs grey, the best cell starred.

    Args:
      results: a :class:`~jaxopt_lab.two_d.SweepResult` or ``{label: result}``,
        all over grids with the same axis names.
      path: where to save the PNG (optional).
      title: the figure's title.
    """
    if isinstance(results, SweepResult):
        results = {"sweep": results}
    if not results:
        raise ValueError("results must hold at least one SweepResult")
    axis_names = {tuple(result.axes) for result in results.values()}
    if len(axis_names) != 1:
        raise ValueError(f"all results must sweep the same hyperparameters, got {axis_names}")
    (names,) = axis_names
    if len(names) == 1:
        figure = _plot_sweep_lines(results, title)
    elif len(names) == 2:
        figure = _plot_sweep_heatmaps(results, title)
    else:
        raise ValueError(
            f"plot_sweep draws one- or two-axis grids; this one has {len(names)} axes {names}"
        )
    return _save(figure, path)
