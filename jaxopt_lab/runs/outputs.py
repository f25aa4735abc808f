"""What the 2-D commands and the MNIST sweep write into their folder, as library calls.

Each function runs its experiment, writes its files (atomically: figures as PNG,
summaries as strict JSON, per-point results as Parquet) and returns what a
caller prints. The MNIST comparison, which trains for minutes and resumes, has
its own module (:mod:`jaxopt_lab.runs.training`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from jaxopt_lab.data import MnistData
from jaxopt_lab.files import Result, figure_bytes, json_bytes
from jaxopt_lab.grid import with_settings
from jaxopt_lab.mnist import MnistSweepResult, sweep
from jaxopt_lab.optimizer_spec import OptimizerSpec
from jaxopt_lab.problems import Problem
from jaxopt_lab.report.figures import display_name, plot_mnist_sweep, plot_sweep, plot_trajectories
from jaxopt_lab.runs.streamed_sweep import STREAM_CHUNK_POINTS, SweepSummary, sweep_to_file
from jaxopt_lab.two_d import TUTORIAL_LEARNING_RATES, trajectory


def write_trajectories(out: Path, specs: Sequence[OptimizerSpec], problem: Problem,
                       start: Any, steps: int) -> dict[str, dict]:  # fmt: skip
    """``trajectories.png`` (one panel each) and ``trajectories.json`` (every position).

    A spec without a learning rate gets the tutorial's figure rate
    (:data:`~jaxopt_lab.two_d.TUTORIAL_LEARNING_RATES`). Returns the JSON's
    ``optimizers`` record, keyed by each spec's label, plus each panel's label.
    """
    positions, record = {}, {}
    for spec in specs:
        learning_rate = spec.settings.get("learning_rate", TUTORIAL_LEARNING_RATES[spec.name])
        optimizer = spec.build(learning_rate=learning_rate)
        path = np.asarray(trajectory(optimizer, problem, start, steps))
        only_rate = set(spec.settings) <= {"learning_rate"}
        label = f"{spec.name} (lr={learning_rate:g})" if only_rate else spec.label
        positions[label] = path
        record[spec.label] = {"label": label, "learning_rate": learning_rate,
                              "settings": dict(spec.settings), "positions": path,
                              "final_loss": float(problem.function(path[-1]))}  # fmt: skip
    with Result(out) as result:  # the figure and the JSON: one unit, never mixed
        result.add("trajectories.png", figure_bytes(plot_trajectories(positions, problem),
                                                    bbox_inches="tight"))  # fmt: skip
        result.add("trajectories.json", json_bytes({
            "problem": problem.name, "steps": steps, "start": next(iter(positions.values()))[0],
            "minima": [list(m) for m in problem.minima], "optimizers": record,
        }))  # fmt: skip
    return record


def write_sweeps(out: Path, specs: Sequence[OptimizerSpec], grid: Mapping[str, np.ndarray],
                 problem: Problem, start: Any, steps: int,
                 chunk_size: int | None = None) -> dict[str, SweepSummary]:  # fmt: skip
    """Each optimizer over the grid, streamed to ``sweep_<label>.parquet``; ``sweep.json``
    (the summaries) and ``sweep.png`` (drawn from each summary's bounded sample)."""
    summaries = {}
    with Result(out) as result:  # the Parquet files, figure and JSON: one unit, never mixed
        for spec in specs:
            name = f"sweep_{re.sub(r'[^A-Za-z0-9_.=-]+', '_', spec.label)}.parquet"
            summary = sweep_to_file(
                with_settings(spec.name, spec.settings), grid, problem, result.stage(name),
                start, steps, chunk_size=chunk_size or STREAM_CHUNK_POINTS,
            )  # fmt: skip
            summaries[spec.label] = replace(summary, path=out / name)
        result.add("sweep.png", figure_bytes(
            plot_sweep({label: s.sample for label, s in summaries.items()}), bbox_inches="tight",
        ))  # fmt: skip
        result.add("sweep.json",
                   json_bytes({label: s.to_dict() for label, s in summaries.items()}))  # fmt: skip
    return summaries


def write_mnist_sweep(out: Path, spec: OptimizerSpec, grid: Mapping[str, np.ndarray],
                      data: MnistData, iterations: int, batch_size: int, seeds: Sequence[int],
                      sizes: Sequence[int]) -> MnistSweepResult:  # fmt: skip
    """:func:`jaxopt_lab.mnist.sweep`; ``sweep.json`` (final losses and accuracies on the
    grid x seeds, timings) and ``sweep.png`` (final loss against the first axis)."""
    result = sweep(with_settings(spec.name, spec.settings), grid, data, iterations, batch_size,
                   seeds=seeds, sizes=sizes)  # fmt: skip
    networks = result.final_loss.size
    first = next(iter(grid))
    title = f"{display_name(spec.label)} on MNIST, {iterations} iterations"
    figure = plot_mnist_sweep(result.axes[first], result.final_loss, label=spec.label,
                              title=title, axis_name=first)  # fmt: skip
    record = {
        "optimizer": spec.label, "iterations": iterations, "batch_size": batch_size,
        "sizes": list(sizes), "axes": result.axes, "final_loss": result.final_loss,
        "test_accuracy": result.test_accuracy, "compile_seconds": result.compile_seconds,
        "run_seconds": result.run_seconds, "networks_per_second": networks / result.run_seconds,
        "device_count": result.device_count,
    }  # fmt: skip
    with Result(out) as written:  # the JSON and the figure: one unit, never mixed
        written.add("sweep.json", json_bytes(record))
        written.add("sweep.png", figure_bytes(figure))
    return result
