"""The demo: both of the tutorial's experiments end to end, and their report.

:func:`two_d_section` runs the first experiment (30 steps on the tutorial's bowl
with its four settings, then 1,000 learning rates of each in one compiled
sweep) and writes its figures; :func:`mnist_section` describes a finished
MNIST run (:mod:`jaxopt_lab.runs.training`); :func:`run_demo` does both and writes the
report through :func:`jaxopt_lab.report.document.write_report`: ``report.md`` and
``report.html``, where the trajectories and the loss curves are interactive
(:mod:`jaxopt_lab.report.explorer`; the explorer's sweeps run beside the rest).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from jaxopt_lab import files
from jaxopt_lab.data import MnistData, MnistNotFoundError
from jaxopt_lab.mnist import TUTORIAL_OPTIMIZERS
from jaxopt_lab.optimizer_spec import parse_optimizers
from jaxopt_lab.optimizers import OPTIMIZERS
from jaxopt_lab.problems import PROBLEMS
from jaxopt_lab.report.document import Image, Paragraph, Report, Section, Table, write_report
from jaxopt_lab.report.explorer import TwoDExplorer, explore_two_d, loss_curves_view
from jaxopt_lab.report.figures import display_name, plot_sweep, plot_trajectories
from jaxopt_lab.runs.training import RESULT_HEADERS, RunConfig, RunResult, TrainingRun, result_rows
from jaxopt_lab.two_d import TUTORIAL_LEARNING_RATES, sweep, trajectory

TITLE = "jaxopt_lab demo: the tutorial's two experiments"
TRAJECTORIES, LOSS_CURVES = "two_d/trajectories.png", "mnist/loss_curves.png"


def two_d_section(folder: Path, steps: int = 30) -> Section:
    """The tutorial's first experiment and a 1,000-point sweep; figures under ``folder/two_d``."""
    problem = PROBLEMS["bowl"]
    two_d = folder / "two_d"
    two_d.mkdir(parents=True, exist_ok=True)
    positions, rows = {}, []
    for name in TUTORIAL_OPTIMIZERS:
        learning_rate = TUTORIAL_LEARNING_RATES[name]
        path = np.asarray(trajectory(OPTIMIZERS[name](learning_rate), problem, None, steps))
        positions[f"{display_name(name)} (lr={learning_rate:g})"] = path
        rows.append([display_name(name), f"{learning_rate:g}",
                     f"({path[-1, 0]:.4g}, {path[-1, 1]:.4g})",
                     f"{float(problem.function(path[-1])):.3g}"])  # fmt: skip
    files.save_figure(plot_trajectories(positions, problem), two_d / "trajectories.png",
                      bbox_inches="tight")  # fmt: skip

    grid = {"learning_rate": np.geomspace(1e-3, 10.0, 1000)}
    results = {display_name(name): sweep(OPTIMIZERS[name], grid, problem, None, steps)
               for name in TUTORIAL_OPTIMIZERS}  # fmt: skip
    files.save_figure(plot_sweep(results), two_d / "sweep.png", bbox_inches="tight")
    best = []
    for label, result in results.items():
        point, loss = result.best()
        best.append([label, f"{point['learning_rate']:.3g}", f"{loss:.3g}",
                     str(int(np.sum(result.diverged)))])  # fmt: skip
    return Section(
        f"2-D: {steps} steps on f(x, y) = x²/20 + y² from (-7, 2)",
        [
            Image(TRAJECTORIES, "trajectories"),
            Table(["optimizer", "learning rate", "final position", "f(final)"], rows,
                  ["left", "right", "left", "right"]),
            Paragraph("The same problem swept over 1,000 learning rates (1e-3 to 10, "
                      "log-spaced) per optimizer,\neach sweep one compiled, vmapped program:"),
            Image("two_d/sweep.png", "final loss against learning rate"),
            Table(["optimizer", "best learning rate", "f(final)", "diverged runs"], best,
                  ["left", "right", "right", "right"]),
        ],
    )  # fmt: skip


def mnist_section(summary: dict[str, Any] | None, missing: str | None = None) -> Section:
    """The MNIST comparison from its ``losses.json`` summary (or why it did not run)."""
    section = Section("MNIST: SGD, Momentum, AdaGrad and Adam side by side")
    if summary is None or "final_mean_loss" not in summary:
        section.blocks.append(Paragraph(
            f"MNIST was not found, so this part did not run. {missing}" if missing
            else "The MNIST run was interrupted before its first results."
        ))  # fmt: skip
        return section
    timing = (
        f"(compiled in {summary['compile_seconds']:.1f} s, ran in {summary['run_seconds']:.1f} s)"
        if "compile_seconds" in summary
        else "(interrupted)"
    )
    section.blocks += [
        Paragraph(
            f"{summary['iterations']} iterations, batches of {summary['batch_size']} drawn "
            f"with replacement (seed {summary['seed']}), network "
            f"{'-'.join(map(str, summary['sizes']))}, every optimizer from the same initial "
            "weights on the same batches, the tutorial's hyperparameters. All four were "
            f"trained in one compiled program {timing}."
        ),
        loss_curves_view(summary, static=Image(LOSS_CURVES, "MNIST train loss")),
        Table(RESULT_HEADERS, result_rows(summary), ["left", "right", "right"]),
        Paragraph("The tutorial reports SGD about 0.2, Momentum about 0.06-0.1, AdaGrad and "
                  "Adam about 0.03. Every loss: [mnist/losses.json](mnist/losses.json)."),
    ]  # fmt: skip
    return section


def with_explorer(section: Section, explorer: TwoDExplorer | None) -> Section:
    """The 2-D section with its trajectories figure as the explorer (the figure stays
    the Markdown's), opened at the tutorial's settings; unchanged without one."""
    if explorer is None:
        return section
    blocks = [explorer.view(static=block)
              if isinstance(block, Image) and block.path == TRAJECTORIES else block
              for block in section.blocks]  # fmt: skip
    return replace(section, blocks=blocks)


@dataclass(frozen=True)
class DemoResult:
    report: Report
    files: list[Path]
    run: RunResult | None
    missing_data: str | None


def tutorial_config(iterations: int = 2000, batch_size: int = 128, seed: int = 0,
                    sizes: tuple[int, ...] | None = None) -> RunConfig:  # fmt: skip
    """The tutorial's MNIST comparison as a run config."""
    extra = {"sizes": tuple(sizes)} if sizes else {}
    return RunConfig(parse_optimizers(list(TUTORIAL_OPTIMIZERS)), iterations, batch_size, seed,
                     **extra)  # fmt: skip


def run_demo(
    folder: str | Path,
    config: RunConfig,
    load_data: Callable[[], MnistData],
    on_chunk: Callable[[Any], None] | None = None,
    stop: threading.Event | None = None,
) -> DemoResult:
    """Both experiments into ``folder`` (``two_d/``, ``mnist/``) and the report.

    The MNIST run's folder is checked and locked before anything else runs
    (raising :class:`jaxopt_lab.runs.training.RunError`); if ``load_data`` raises
    :class:`~jaxopt_lab.data.MnistNotFoundError` the report says so and the
    2-D part stands alone. The explorer's sweeps (:func:`~jaxopt_lab.report.explorer.explore_two_d`:
    the tutorial's four optimizers on the five problems, 20 small programs) run in a
    second thread meanwhile; after ``stop`` the page keeps the static figure instead.
    """
    folder = Path(folder)
    halt = threading.Event()  # the explorer stops between its programs once set
    with TrainingRun(folder / "mnist", config) as run, ThreadPoolExecutor(1) as pool:
        explorer = pool.submit(explore_two_d, TUTORIAL_OPTIMIZERS, stop=halt)
        try:
            two_d = two_d_section(folder)
            try:
                data = load_data()
            except MnistNotFoundError as error:
                report = Report(TITLE, [with_explorer(two_d, explorer.result()),
                                        mnist_section(None, str(error))])  # fmt: skip
                return DemoResult(report, write_report(report, folder), None, str(error))
            result = run.train(data, on_chunk, stop)
        except BaseException:
            halt.set()
            raise
        if result.interrupted:
            halt.set()
        report = Report(TITLE, [with_explorer(two_d, explorer.result()),
                                mnist_section(result.summary)])  # fmt: skip
    return DemoResult(report, write_report(report, folder), result, None)
