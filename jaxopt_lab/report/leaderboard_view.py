"""A leaderboard's section of the report: its score and time tables, and its view.

:func:`leaderboard_view` turns a leaderboard's ``summary.json`` and ``curves.parquet``
(:mod:`jaxopt_lab.runs.leaderboard_folder`) into the page's ``leaderboard`` view: the
performance profiles rho(tau) of every optimizer, with the time in steps or in seconds
(:func:`jaxopt_lab.scoring.performance_profiles` of the summary's time tables, as the run
scored them), and per workload the validation metric against the step of each optimizer's
shown trial (:func:`jaxopt_lab.tuning.leaderboard.median_study_trial`: the best trial, by
AlgoPerf's rule, of the median study), with the target. :func:`leaderboard_section` reads a
folder, each file checked against its schema first (:mod:`jaxopt_lab.runs.run_files`); every
value from it is shown as text, never a link.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jaxopt_lab.report.document import Image, Interactive, Paragraph, Report, Section, Table
from jaxopt_lab.runs import run_files
from jaxopt_lab.runs.leaderboard_folder import CURVES, FIGURE, SUMMARY
from jaxopt_lab.scoring import performance_profiles
from jaxopt_lab.tuning.leaderboard import (
    SCORE_HEADERS,
    median_study_trial,
    score_rows,
    target_text,
    time_table_rows,
)

UNITS = ("steps", "seconds")
DEFAULT_METRIC = "validation metric"
"""The metric's name where the summary names none (a summary written before it did)."""


def time_table(summary: Mapping[str, Any], unit: str) -> pd.DataFrame:
    """The summary's time-to-target table in ``unit``: rows optimizers, columns workloads (in
    the config's order), ∞ for a miss (``null`` in the file)."""
    config = summary["config"]
    record = summary[f"{unit}_to_target"]
    values = [
        [np.inf if record[o][w] is None else float(record[o][w]) for w in config["workloads"]]
        for o in config["optimizers"]
    ]
    return pd.DataFrame(values, index=list(config["optimizers"]), columns=config["workloads"])


def _cell(summary: Mapping[str, Any], optimizer: str, workload: str) -> Mapping[str, Any]:
    return next(
        c for c in summary["cells"] if (c["optimizer"], c["workload"]) == (optimizer, workload)
    )


def _shown_series(cell: Mapping[str, Any], curves: pd.DataFrame) -> dict[str, Any]:
    """One optimizer's line on one workload: its median study's best trial, every evaluation."""
    mine = curves[(curves["optimizer"] == cell["optimizer"])
                  & (curves["workload"] == cell["workload"])]  # fmt: skip
    study, trial = median_study_trial(cell["studies"], mine, cell["direction"])
    rows = mine[(mine["study"] == study) & (mine["trial"] == trial)].sort_values("step")
    record = next(s for s in cell["studies"] if s["study"] == study)
    reached = record["steps_to_target"] if record["trial"] == trial else None
    return {
        "optimizer": cell["optimizer"],
        "study": study,
        "trial": trial,
        "reached_step": reached,
        "steps": rows["step"].to_numpy(np.int32),
        "metric": rows["validation_metric"].to_numpy(np.float64),
    }


def leaderboard_view(
    summary: Mapping[str, Any], curves: pd.DataFrame, static: Image | None = None
) -> Interactive:
    """The page's ``leaderboard`` view (see the module docstring) from a checked summary
    (:func:`~jaxopt_lab.runs.run_files.check_leaderboard_summary`) and its curves."""
    config = summary["config"]
    profiles = {unit: performance_profiles(time_table(summary, unit)) for unit in UNITS}
    described = summary.get("workloads", {})
    workloads = []
    for workload in config["workloads"]:
        cells = [_cell(summary, optimizer, workload) for optimizer in config["optimizers"]]
        workloads.append({
            "name": workload,
            "metric": described.get(workload, {}).get("metric", DEFAULT_METRIC),
            "target": cells[0]["target"],
            "direction": cells[0]["direction"],
            "target_text": target_text(cells[0]["direction"], cells[0]["target"]),
            "series": [_shown_series(cell, curves) for cell in cells],
        })  # fmt: skip
    data = {
        "optimizers": list(config["optimizers"]),
        "units": list(UNITS),
        "taus": profiles["steps"].columns.to_numpy(np.float64),
        "profiles": {unit: profile.to_numpy(np.float64) for unit, profile in profiles.items()},
        "workloads": workloads,
    }
    alt = ("Interactive in report.html: the performance profiles (time in steps or seconds) "
           "and each workload's validation curves, read by hovering.")  # fmt: skip
    return Interactive("leaderboard", data, alt, static)


def leaderboard_section(folder: str | Path) -> Section:
    """The page's section for a leaderboard folder: what was run, the score table, the view
    and the time-to-target tables. Raises :class:`~jaxopt_lab.runs.run_files.RunFileError`
    (one line) for a file that does not have the schema the leaderboard writes."""
    folder = Path(folder)
    summary = run_files.check_leaderboard_summary(
        run_files.read_json(folder / SUMMARY), folder / SUMMARY
    )
    curves = run_files.read_leaderboard_curves(folder / CURVES, summary)
    config = summary["config"]
    scores = pd.DataFrame.from_dict(summary["scores"], orient="index")
    targets = {cell["workload"]: target_text(cell["direction"], cell["target"])
               for cell in summary["cells"]}  # fmt: skip
    studies = config.get("studies")
    intro = (
        f"{', '.join(config['optimizers'])} tuned on {', '.join(config['workloads'])}"
        f"{f', {studies} studies each' if isinstance(studies, int) else ''} ({folder}), scored "
        "as AlgoPerf scores: a time above 4x the best counts as a miss, rho(tau) is the fraction "
        "of workloads within tau times the best, the score its integral over [1, 4] divided by 3. "
        "Each curve is an optimizer's median study (the faster of the two middle ones for an "
        "even count) and, in it, the trial that reached the target first (AlgoPerf's best "
        "trial), or the trial with the best final metric if none did."
    )
    view = leaderboard_view(summary, curves, Image(FIGURE, "Performance profiles"))
    blocks: list[Any] = [
        Paragraph(intro, literal=True),
        Table(list(SCORE_HEADERS), score_rows(scores), ["left", "right", "right"]),
        view,
    ]
    for unit in UNITS:
        headers, rows = time_table_rows(time_table(summary, unit), unit, targets)
        blocks.append(Paragraph(f"Median time to target over studies, in {unit}:"))
        blocks.append(Table(headers, rows, ["left", *["right"] * (len(headers) - 1)]))
    return Section("Leaderboard", blocks)


def leaderboard_report(folder: str | Path) -> Report:
    """The report a leaderboard writes into its folder: its section alone."""
    return Report("jaxopt_lab leaderboard", [leaderboard_section(folder)])
