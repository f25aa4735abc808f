"""A leaderboard that owns its folder: ``jaxopt-lab leaderboard``'s library half::

    config = LeaderboardConfig(optimizers=("adam", "sgd"), workloads=("rosenbrock",))
    with LeaderboardRun("runs/board", config, resume=True) as run:
        result = run.run(on_cell=print)
    result.scores            # DataFrame: score_steps, score_seconds by optimizer

What is computed (the cells, their times to target, the profiles and scores) is
:mod:`jaxopt_lab.tuning.leaderboard`; this module writes it. The folder holds a lock (a second
process is refused), ``config.json`` (a folder holding another leaderboard's config is refused;
``resume`` continues one with the same config), one finished cell at a time in ``cells/`` (its
curves as Parquet, its times as JSON, each written atomically), then the outputs:
``scores.md``, ``time_to_target.md``, ``profiles.png``, ``curves.parquet`` (every curve of every
cell), ``summary.json`` and last the report, ``report.md`` and ``report.html``
(:func:`jaxopt_lab.report.leaderboard_view.leaderboard_report`, read back from the folder as
``jaxopt-lab explore --run`` reads it). Stopped (a ``threading.Event``), it stops after the cell
it is in; a resumed run skips the finished cells. Nothing here prints: progress goes to ``on_cell``.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pandas as pd

from jaxopt_lab import files
from jaxopt_lab.runs.held_folder import HeldFolder
from jaxopt_lab.tuning.leaderboard import (
    Cell,
    LeaderboardConfig,
    LeaderboardError,
    check_config,
    run_cell,
    scored,
    scores_markdown,
    space_for,
    target_text,
    time_tables,
    timed,
    times_markdown,
)
from jaxopt_lab.workloads import get_workload

CONFIG, SCORES, TIMES, FIGURE, CURVES, SUMMARY = (
    "config.json",
    "scores.md",
    "time_to_target.md",
    "profiles.png",
    "curves.parquet",
    "summary.json",
)
CELLS = "cells"


@dataclass
class LeaderboardResult:
    """What :meth:`LeaderboardRun.run` returns. ``interrupted``: stopped before every cell ran
    (then only ``cells`` is filled; the rest is ``None``)."""

    cells: list[Cell]
    interrupted: bool
    times: dict[str, pd.DataFrame] | None = None
    profiles: dict[str, pd.DataFrame] | None = None
    scores: pd.DataFrame | None = None
    wall_seconds: float = 0.0
    files: list[Path] = field(default_factory=list)


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


class LeaderboardRun(HeldFolder):
    """A leaderboard that owns ``folder``; see the module docstring. A context manager:
    entering checks the folder, takes its lock and reads any earlier config (raising
    :class:`~jaxopt_lab.tuning.leaderboard.LeaderboardError`)."""

    folder_error = LeaderboardError

    def __init__(self, folder: str | Path, config: LeaderboardConfig, *, resume: bool = False):
        check_config(config)
        self.folder = Path(folder)
        self.config = config
        self.resume = resume
        self._workloads: dict[str, Any] | None = None

    def check_folder(self) -> None:
        self._checked_workloads()
        self._check_earlier_config()

    def _check_earlier_config(self) -> None:
        path = self.folder / CONFIG
        mine = self.config.to_dict()
        if path.exists():
            try:
                theirs = json.loads(path.read_text())
            except (OSError, ValueError) as error:
                raise LeaderboardError(f"{path} is not a leaderboard config ({error})") from None
            if not self.resume:
                raise LeaderboardError(
                    f"{self.folder} holds a leaderboard already; resume it (--resume) or "
                    "choose another folder"
                )
            differing = [key for key in mine if mine[key] != theirs.get(key)]
            if differing:
                shown = "; ".join(
                    f"{key}: saved {theirs.get(key)!r}, now {mine[key]!r}" for key in differing
                )
                raise LeaderboardError(
                    f"cannot resume {self.folder}: it was started with other settings ({shown})"
                )
        files.write_json(path, mine)

    def _cell_paths(self, optimizer: str, workload: str) -> tuple[Path, Path]:
        folder = self.folder / CELLS / workload
        return folder / f"{optimizer}.json", folder / f"{optimizer}.parquet"

    def finished_cell(self, optimizer: str, workload: Any) -> Cell | None:
        """The saved cell, or ``None`` if it has not finished or ran with another budget.

        A cell saved against another target (the workloads' targets were reset since) gets its
        times recomputed from its saved curves: the studies do not depend on the target.
        """
        json_path, parquet_path = self._cell_paths(optimizer, workload.name)
        if not (json_path.exists() and parquet_path.exists()):
            return None
        record = json.loads(json_path.read_text())
        budget = self.config.steps.get(workload.name, workload.steps)
        if record["budget"] != budget:
            return None
        for key in ("steps_to_target", "seconds_to_target"):
            record[key] = np.inf if record[key] is None else record[key]
        for study in record["studies"]:
            if study["steps_to_target"] is None:
                study["steps_to_target"] = np.inf
        cell = Cell(**record)
        if (cell.target, cell.direction) != (float(workload.target), workload.direction):
            cell = timed(cell, pd.read_parquet(parquet_path), workload)
            files.write_json(json_path, cell.to_dict())
        return cell

    def _checked_workloads(self) -> dict[str, Any]:
        """The workloads, each budget and each space checked (before the folder is written)."""
        if self._workloads is None:
            workloads = {name: get_workload(name) for name in self.config.workloads}
            for workload in workloads.values():
                budget = self.config.steps.get(workload.name, workload.steps)
                if budget % workload.eval_every:
                    raise LeaderboardError(
                        f"steps of {workload.name}: {budget} is not a multiple of its "
                        f"evaluation interval ({workload.eval_every})"
                    )
                for optimizer in self.config.optimizers:
                    space_for(self.config, optimizer, workload)
            self._workloads = workloads
        return self._workloads

    def run(
        self,
        *,
        on_cell: Callable[[Cell, bool], None] | None = None,
        stop: threading.Event | None = None,
        run_study: Callable[..., Any] | None = None,
    ) -> LeaderboardResult:
        """Run every unfinished cell (workload by workload), then write the outputs.

        ``on_cell(cell, resumed)`` after each cell (``resumed``: read from the folder).
        """
        begin = time.perf_counter()
        workloads = self._checked_workloads()
        cells: list[Cell] = []
        for workload_name, workload in workloads.items():
            for optimizer in self.config.optimizers:
                if stop is not None and stop.is_set():
                    return LeaderboardResult(cells, True, wall_seconds=time.perf_counter() - begin)
                cell = self.finished_cell(optimizer, workload)
                resumed = cell is not None
                if cell is None:
                    cell, curves = run_cell(self.config, optimizer, workload, run_study=run_study)
                    json_path, parquet_path = self._cell_paths(optimizer, workload_name)
                    json_path.parent.mkdir(parents=True, exist_ok=True)
                    files.write_atomic(parquet_path, _parquet_bytes(curves))
                    files.write_json(json_path, cell.to_dict())
                cells.append(cell)
                if on_cell is not None:
                    on_cell(cell, resumed)
        return self._write_outputs(cells, time.perf_counter() - begin)

    def _write_outputs(self, cells: list[Cell], wall_seconds: float) -> LeaderboardResult:
        from jaxopt_lab.report.document import write_report
        from jaxopt_lab.report.leaderboard_view import leaderboard_report
        from jaxopt_lab.tuning.plots import plot_profiles

        config = self.config
        times = time_tables(cells, config)
        profiles, scores = scored(times)
        targets = {cell.workload: target_text(cell.direction, cell.target) for cell in cells}
        files.write_atomic(self.folder / SCORES, (scores_markdown(scores) + "\n").encode())
        files.write_atomic(self.folder / TIMES, times_markdown(times, targets).encode())
        files.save_figure(plot_profiles(profiles), self.folder / FIGURE)
        curves = pd.concat(
            [pd.read_parquet(self._cell_paths(c.optimizer, c.workload)[1]) for c in cells],
            ignore_index=True,
        )
        files.write_atomic(self.folder / CURVES, _parquet_bytes(curves))
        summary = {
            "config": config.to_dict(),
            "scores": scores.to_dict(orient="index"),
            "steps_to_target": times["steps"].to_dict(orient="index"),
            "seconds_to_target": times["seconds"].to_dict(orient="index"),
            "cells": [cell.to_dict() for cell in cells],
            "workloads": {
                name: {"metric": workload.metric_name}
                for name, workload in self._checked_workloads().items()
            },
            "wall_seconds": wall_seconds,
            "devices": [str(device) for device in jax.devices()],
        }
        files.write_json(self.folder / SUMMARY, summary)
        written = [self.folder / name for name in (SCORES, TIMES, FIGURE, CURVES, SUMMARY)]
        written += write_report(leaderboard_report(self.folder), self.folder)
        return LeaderboardResult(
            cells, False, times, profiles, scores, wall_seconds=wall_seconds, files=written
        )
