"""The interactive report's data: the 2-D explorer and the MNIST views, as report blocks.

:func:`explore_two_d` runs every optimizer on every 2-D problem for every
learning rate of a log-spaced grid and keeps every position: one compiled,
vmapped program per (optimizer, problem), through the grid map
(:func:`jaxopt_lab.two_d.sweep` with ``keep_trajectories=True``). Its
:meth:`TwoDExplorer.view` is the page's explorer (a
:class:`~jaxopt_lab.report.document.Interactive` block): the arrays travel into the page
as float32, bit for bit the sweep's. :func:`loss_curves_view` and
:func:`mnist_sweep_view` turn an MNIST run's ``losses.json`` and an
``mnist-sweep``'s ``sweep.json`` into views; :func:`run_section` reads either
from a folder, or a leaderboard's (:mod:`jaxopt_lab.report.leaderboard_view`).
:func:`explore_report` assembles the page that ``jaxopt-lab explore`` writes; the demo
puts the same views in its own report.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import contourpy
import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.grid import with_settings
from jaxopt_lab.mnist import smooth_curve
from jaxopt_lab.optimizer_spec import OptimizerSpec, parse_optimizer
from jaxopt_lab.problems import PROBLEMS, Problem, as_problem
from jaxopt_lab.report.document import (
    Image,
    Interactive,
    Paragraph,
    Report,
    Section,
    Table,
    to_html,
    write_report,
)
from jaxopt_lab.report.figures import display_name
from jaxopt_lab.runs import run_files
from jaxopt_lab.runs.training import LOSSES, RESULT_HEADERS, result_rows
from jaxopt_lab.two_d import TUTORIAL_LEARNING_RATES, sweep

EXPLORER_OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam")
"""The explorer's default: the tutorial's figure's four and RMSprop, which it also teaches."""

EXPLORER_GRID = (1e-3, 10.0, 200)
"""The default learning-rate grid: 200 values from 1e-3 to 10, log-spaced."""

MAX_EMBEDDED_BYTES = 100_000_000
"""``jaxopt-lab explore`` refuses a page whose trajectories would exceed this (base64)."""

CONTOUR_LEVELS = 10
CONTOUR_RESOLUTION = 121
"""Contour lines of each problem: this many levels (spread by area, denser near the
minimum), traced by ``contourpy`` on a grid this many points wide."""


def preset_learning_rate(spec: OptimizerSpec) -> float:
    """The rate an optimizer opens at: its spec's, else its figure rate on the bowl
    (:data:`~jaxopt_lab.two_d.TUTORIAL_LEARNING_RATES`: the tutorial's for its four)."""
    return float(spec.settings.get("learning_rate", TUTORIAL_LEARNING_RATES[spec.name]))


def embedded_bytes(problems: int, optimizers: int, learning_rates: int, steps: int) -> int:
    """The trajectories' share of the page: float32 positions, base64 (4 characters per 3 bytes)."""
    return 4 * -(-(problems * optimizers * learning_rates * (steps + 1) * 2 * 4) // 3)


def learning_rate_grid(low: float, high: float, count: int,
                       presets: Sequence[float] = ()) -> np.ndarray:  # fmt: skip
    """``count`` log-spaced rates from ``low`` to ``high`` plus ``presets``: a preset is a
    point of the grid exactly."""
    if not (0 < low < high) or count < 2:
        raise ValueError(
            f"the learning-rate grid needs 0 < low < high and count >= 2, got "
            f"low={low!r}, high={high!r}, count={count!r}"
        )
    return np.concatenate([np.geomspace(low, high, count), np.asarray(presets, np.float64)])


@dataclass(frozen=True)
class TwoDExplorer:
    """Every position of every optimizer on every problem at every learning rate.

    Attributes:
      problems: the problems' names, in the order of the first axis.
      specs: the optimizers, in the order of the second axis.
      learning_rates: the grid (increasing; float32 as the sweeps run), the third axis.
      presets: ``{label: index into learning_rates}``, the rate each opens at.
      steps: updates per run; the fourth axis holds ``steps + 1`` positions.
      trajectories: ``[problem, optimizer, learning_rate, step, xy]`` (float32).
      final_loss, diverged: ``[problem, optimizer, learning_rate]``, as
        :class:`~jaxopt_lab.two_d.SweepResult` has them.
    """

    problems: tuple[str, ...]
    specs: tuple[OptimizerSpec, ...]
    learning_rates: np.ndarray
    presets: dict[str, int]
    steps: int
    trajectories: np.ndarray
    final_loss: np.ndarray
    diverged: np.ndarray

    @property
    def labels(self) -> list[str]:
        return [spec.label for spec in self.specs]

    def view(self, static: Image | None = None) -> Interactive:
        """The page's explorer: a problem menu, one panel per optimizer (or all in one
        plot), a learning-rate and a step slider each, the tutorial's settings preset."""
        problems = [PROBLEMS[name] for name in self.problems]
        data = {
            "steps": self.steps,
            "learning_rates": self.learning_rates,
            "optimizers": [
                {
                    "label": spec.label,
                    "name": display_name(spec.label),
                    "preset": self.presets[spec.label],
                }
                for spec in self.specs
            ],  # fmt: skip
            "problems": [_problem_record(problem) for problem in problems],
            "preset_problem": "bowl" if "bowl" in self.problems else self.problems[0],
            "trajectories": self.trajectories,
            "final_loss": self.final_loss,
            "diverged": self.diverged,
        }
        names = ", ".join(display_name(label) for label in self.labels)
        alt = (f"Interactive in report.html: {names} on {len(problems)} problems, "
               f"{len(self.learning_rates)} learning rates each, every step.")  # fmt: skip
        return Interactive("two_d", data, alt, static)


def explore_two_d(
    specs: Sequence[OptimizerSpec | str] = EXPLORER_OPTIMIZERS,
    problems: Sequence[str] = tuple(PROBLEMS),
    learning_rates: Sequence[float] | np.ndarray | None = None,
    steps: int = 30,
    *,
    stop: threading.Event | None = None,
) -> TwoDExplorer | None:
    """Sweep each optimizer over the learning rates on each problem, keeping every position.

    ``specs``: optimizers (``"adam"`` or ``"adam:0.3,b1=0.8"``: the rate is where the
    slider opens, :func:`preset_learning_rate`; the other settings are fixed).
    ``problems``: names in :data:`~jaxopt_lab.problems.PROBLEMS` (the page needs their windows).
    ``learning_rates``: default :data:`EXPLORER_GRID`; each preset is added to the
    grid. One compiled program per (optimizer, problem), through the grid map.
    Returns ``None`` if ``stop`` is set before the last program has run.
    """
    specs = tuple(parse_optimizer(s) if isinstance(s, str) else s for s in specs)
    if not specs:
        raise ValueError("specs: at least one optimizer is needed")
    labels = [spec.label for spec in specs]
    if len(set(labels)) != len(labels):
        raise ValueError(f"specs: an optimizer is listed twice in {labels}")
    if not problems:
        raise ValueError("problems: at least one problem is needed")
    problems = tuple(as_problem(name).name for name in problems)
    presets = {spec.label: preset_learning_rate(spec) for spec in specs}
    if learning_rates is None:
        grid = learning_rate_grid(*EXPLORER_GRID, presets=list(presets.values()))
    else:
        grid = np.concatenate([np.asarray(learning_rates, np.float64).reshape(-1),
                               list(presets.values())])  # fmt: skip
    # Sorted, each once, in the sweeps' dtype (float32; float64 under jax.enable_x64).
    grid = np.unique(grid.astype(jnp.result_type(float)))
    results = []
    for problem in problems:
        row = []
        for spec in specs:
            if stop is not None and stop.is_set():
                return None
            fixed = {k: v for k, v in spec.settings.items() if k != "learning_rate"}
            row.append(sweep(with_settings(spec.name, fixed), {"learning_rate": grid}, problem,
                             steps=steps, keep_trajectories=True))  # fmt: skip
        results.append(row)
    swept = results[0][0].axes["learning_rate"]
    return TwoDExplorer(
        problems=problems,
        specs=specs,
        learning_rates=swept,
        presets={
            label: int(np.argmin(np.abs(np.log(swept) - np.log(swept.dtype.type(rate)))))
            for label, rate in presets.items()
        },  # fmt: skip
        steps=steps,
        trajectories=np.stack([[r.trajectories for r in row] for row in results]),
        final_loss=np.stack([[r.final_loss for r in row] for row in results]),
        diverged=np.stack([[r.diverged for r in row] for row in results]),
    )


@functools.lru_cache(maxsize=16)
def _problem_record(problem: Problem) -> dict[str, Any]:
    """What the page draws behind the paths: the window, start, minima and contour lines."""
    (x0, x1), (y0, y1) = problem.xlim, problem.ylim
    f_star = min(float(problem.function(np.asarray(m, np.float32))) for m in problem.minima)
    return {
        "name": problem.name,
        "description": problem.description,
        "window": [x0, x1, y0, y1],
        "start": list(problem.start),
        "minima": [list(m) for m in problem.minima],
        "f_star": f_star,
        "contours": _contours(problem, f_star),
    }


def _contours(problem: Problem, f_star: float) -> dict[str, Any]:
    """Contour lines as uint16 window coordinates (1/65535 of the window: below a pixel),
    the lines of all levels in one array, 65535 pairs separating lines."""
    (x0, x1), (y0, y1) = problem.xlim, problem.ylim
    columns = CONTOUR_RESOLUTION
    rows = max(11, int(round(columns * (y1 - y0) / (x1 - x0))))
    x, y = np.linspace(x0, x1, columns), np.linspace(y0, y1, rows)
    points = np.stack(np.meshgrid(x, y), axis=-1).reshape(-1, 2).astype(np.float32)
    values = np.asarray(jax.jit(jax.vmap(problem.function))(points), np.float64)
    values = values.reshape(rows, columns)
    quantiles = np.linspace(0.03, 0.97, CONTOUR_LEVELS) ** 2
    levels = np.unique(f_star + np.quantile(values - f_star, quantiles))
    generator = contourpy.contour_generator(x, y, values, line_type="SeparateCode")
    lines = []
    for level in levels:
        for line in generator.lines(level)[0]:
            scaled = (line - [x0, y0]) / [x1 - x0, y1 - y0] * 65534
            lines.append(np.clip(np.round(scaled), 0, 65534).astype(np.uint16))
            lines.append(np.full((1, 2), 65535, np.uint16))
    packed = np.concatenate(lines).reshape(-1) if lines else np.zeros(0, np.uint16)
    return {"levels": levels.tolist(), "xy": packed}


# --------------------------------------------------------------------------- MNIST


def loss_curves_view(summary: Mapping[str, Any], static: Image | None = None) -> Interactive:
    """An MNIST run's loss curves from its ``losses.json`` summary: raw and the tutorial's
    smoothing (a curve stops where its loss turned non-finite), read by hovering."""
    series = []
    for label in summary["optimizers"]:
        raw = np.array([np.nan if v is None else v for v in summary["losses"][label]], np.float32)
        bad = np.flatnonzero(~np.isfinite(raw))
        end = int(bad[0]) if bad.size else raw.size
        smoothed = np.full_like(raw, np.nan)
        smoothed[:end] = smooth_curve(raw[:end])
        series.append({"label": display_name(label), "raw": raw, "smoothed": smoothed})
    alt = "Interactive in report.html: the loss curves, raw or smoothed, read by hovering."
    return Interactive("loss_curves", {"series": series}, alt, static)


def mnist_sweep_view(record: Mapping[str, Any]) -> Interactive:
    """An ``mnist-sweep``'s final loss (and test accuracy) against its first swept
    hyperparameter, one line per seed (the mean over any other swept axes)."""
    axes = record["axes"]
    names = [name for name in axes if name != "seed"]
    first, seeds = names[0], [int(seed) for seed in axes["seed"]]

    def per_seed(key: str) -> np.ndarray:
        array = np.array(record[key], dtype=np.float64)  # None (diverged) -> nan
        middle = tuple(range(1, array.ndim - 1))
        return (array.mean(axis=middle) if middle else array).astype(np.float32)

    values = np.asarray(axes[first], np.float64)
    data = {
        "optimizer": display_name(record["optimizer"]),
        "axis": first,
        "others": names[1:],
        "values": values,
        "log_x": bool(np.all(values > 0) and values.max() >= 10 * values.min()),
        "seeds": seeds,
        "final_loss": per_seed("final_loss"),
        "test_accuracy": per_seed("test_accuracy"),
        "iterations": record["iterations"],
    }
    alt = f"Interactive in report.html: final loss against {first}, one line per seed."
    return Interactive("mnist_sweep", data, alt)


class RunFolderError(ValueError):
    """The folder holds no MNIST run, demo, ``mnist-sweep`` or leaderboard the page can show,
    or one of its files is malformed (the message, one line, names the file and the field)."""


def _read_json(path: Path) -> Any:
    try:
        return run_files.read_json(path)
    except run_files.RunFileError as error:
        raise RunFolderError(str(error)) from None


def run_section(folder: str | Path) -> Section:
    """The page's section for a run folder: an ``mnist`` run (or a demo's ``mnist/``):
    the loss curves and the test-accuracy table; an ``mnist-sweep``: final loss
    against the swept rate per seed, and its table; a ``leaderboard``: its scores,
    profiles, curves and times (:func:`~jaxopt_lab.report.leaderboard_view.leaderboard_section`).
    Each file is checked against its
    schema (:mod:`jaxopt_lab.runs.run_files`) before it is used, and every value from it is
    shown as text (never a link). Raises :class:`RunFolderError`, one line."""
    folder = Path(folder)
    try:
        return _run_section(folder)
    except run_files.RunFileError as error:
        raise RunFolderError(str(error)) from None


def _run_section(folder: Path) -> Section:
    for candidate in (folder / LOSSES, folder / "mnist" / LOSSES):
        if candidate.is_file():
            summary = _read_json(candidate)
            if not isinstance(summary, dict) or "losses" not in summary or (
                    "optimizers" not in summary):  # fmt: skip
                raise RunFolderError(f"{candidate} is not the losses.json of a jaxopt-lab run")
            run_files.check_losses_summary(summary, candidate)
            names = ", ".join(display_name(label) for label in summary["optimizers"])
            blocks = [
                Paragraph(f"{summary.get('iterations_done', summary['iterations'])} iterations, "
                          f"batches of {summary['batch_size']}, seed {summary['seed']} "
                          f"({candidate}).", literal=True),
                loss_curves_view(summary),
            ]  # fmt: skip
            if "final_mean_loss" in summary:
                blocks.append(Table(RESULT_HEADERS, result_rows(summary),
                                    ["left", "right", "right"]))  # fmt: skip
            return Section(f"MNIST: {names}", blocks)
    path = folder / "sweep.json"
    if path.is_file():
        record = _read_json(path)
        if isinstance(record, dict) and "optimizer" in record and "seed" in (
                record.get("axes") if isinstance(record.get("axes"), dict) else {}):  # fmt: skip
            run_files.check_mnist_sweep(record, path)
            view = mnist_sweep_view(record)
            data = view.data
            rows = [[f"{value:.3g}", f"{np.nanmean(loss):.4f}", f"{np.nanmean(acc):.4f}"]
                    for value, loss, acc in zip(data["values"], data["final_loss"],
                                                data["test_accuracy"], strict=True)]  # fmt: skip
            return Section(
                f"MNIST sweep: {data['optimizer']}, {record['iterations']} iterations", [
                    view,
                    Table([data["axis"], "final train loss (mean over seeds)",
                           "test accuracy (mean over seeds)"], rows, ["right"] * 3),
                ],
            )  # fmt: skip
    if (folder / "summary.json").is_file() and (folder / "curves.parquet").is_file():
        from jaxopt_lab.report.leaderboard_view import leaderboard_section

        return leaderboard_section(folder)
    raise RunFolderError(
        f"{folder} holds neither the losses.json of an mnist run or demo, the sweep.json "
        "of an mnist-sweep, nor the summary.json and curves.parquet of a leaderboard"
    )


# --------------------------------------------------------------------------- the page


def explore_report(explorer: TwoDExplorer, runs: Sequence[Section] = ()) -> Report:
    """The page of ``jaxopt-lab explore``: the 2-D explorer, then each run's section."""
    names = ", ".join(display_name(label) for label in explorer.labels)
    rates = explorer.learning_rates
    intro = Paragraph(
        f"{names} for {explorer.steps} steps on each problem, at {len(rates)} learning "
        f"rates from {rates[0]:.3g} to {rates[-1]:.3g} (log-spaced, plus each optimizer's "
        "preset): each optimizer's sweep on each problem is one compiled, vmapped program "
        "(`jaxopt_lab.two_d.sweep` with `keep_trajectories=True`). Drag or use the arrow "
        "keys on a slider; the path and the loss redraw at once."
    )
    section = Section("2-D: every optimizer, every learning rate, every step",
                      [intro, explorer.view()])  # fmt: skip
    return Report("jaxopt_lab explorer", [section, *runs])


def write_explore_page(folder: str | Path, report: Report) -> Path:
    """Write ``report`` as ``folder/report.html`` only (atomically); its path."""
    (path,) = write_report(report, folder, {"report.html": to_html})
    return path
