"""A tuning study that owns its folder: ``jaxopt-lab tune``'s library half.

    with TuneRun(folder, config, resume=True) as run:
        result = run.run(on_chunk=...)     # or the saved study, when it is complete

The folder is locked while a run holds it (:class:`jaxopt_lab.files.FolderLock`)
and holds, each written atomically:

* ``study.json``: the config, the trials' points, every study's best trial, the
  compute (lane-steps run against the full study's) and the times;
* ``best_trial.json``: the best trial over the studies (its hyperparameters and
  final validation metric, and the optimizer's keyword arguments);
* ``curves.parquet``: :attr:`~jaxopt_lab.tuning.study.StudyResult.curves`;
* ``sensitivity.png``: the learning-rate sensitivity plot (DeepOBS style).

A study is one compiled program, so it is resumable as a whole: a folder whose
``study.json`` records the same config is complete and is read back, not rerun;
another config is refused (:class:`RunError`); a folder with ``study.json`` and no
``resume`` is refused too, so a result is never overwritten. The study itself is
:func:`jaxopt_lab.tuning.study.study`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from jaxopt_lab import files
from jaxopt_lab.runs.held_folder import HeldFolder
from jaxopt_lab.runs.training import RunError
from jaxopt_lab.tuning.study import StudyResult, study

STUDY, BEST, CURVES, FIGURE = "study.json", "best_trial.json", "curves.parquet", "sensitivity.png"


@dataclass(frozen=True)
class TuneConfig:
    """What defines a tuning run (``space`` is the search space as given: dict or list)."""

    optimizer: str
    workload: str
    space: Any
    trials: int
    studies: int = 1
    seed: int = 0
    steps: int | None = None
    halving: int | None = None
    schedule: str = "warmup_cosine"


def summary(config: TuneConfig, result: StudyResult) -> dict:
    """``study.json``'s content."""
    best = result.best_trials()
    return {
        "config": asdict(config),
        "workload": {"name": result.workload.name, "metric": result.workload.metric_name,
                     "target": result.workload.target, "direction": result.workload.direction,
                     "steps": result.steps, "eval_every": result.workload.eval_every},
        "points": result.points,
        "best_trials": best.to_dict(orient="records"),
        "lane_steps": result.lane_steps,
        "full_lane_steps": result.full_lane_steps,
        "compute_fraction": result.compute_fraction,
        "compile_seconds": result.compile_seconds,
        "run_seconds": result.run_seconds,
        "device_count": result.device_count,
    }  # fmt: skip


def best_trial(result: StudyResult) -> dict:
    """The best trial over every study, with its final metric."""
    best = result.best_trials()
    score = result.workload.better(best["validation_metric"])
    row = best.iloc[int(score.argmax())]
    trial = int(row["trial"])
    return {
        "study": int(row["study"]),
        "trial": trial,
        "hyperparameters": result.points[trial],
        "validation_metric": float(row["validation_metric"]),
        "reached_target": bool(row["reached"]),
    }


class TuneRun(HeldFolder):
    """A study of ``config`` that owns ``folder``; see the module docstring."""

    folder_error = RunError

    def __init__(self, folder: str | Path, config: TuneConfig, *, resume: bool = False):
        self.folder = Path(folder)
        self.config = config
        self.resume = resume
        self.saved: dict | None = None

    def check_folder(self) -> None:
        self._read_saved()

    def _read_saved(self) -> None:
        path = self.folder / STUDY
        if not path.exists():
            return
        if not self.resume:
            raise RunError(f"{self.folder} holds a finished study; pass --resume to read it "
                           "back, or choose another folder")  # fmt: skip
        try:
            saved = json.loads(path.read_text())
            theirs = saved["config"]
        except (OSError, ValueError, KeyError) as error:
            raise RunError(f"{path} is not a jaxopt-lab tune result ({error})") from None
        mine = json.loads(json.dumps(asdict(self.config)))
        differing = [key for key in mine if mine[key] != theirs.get(key)]
        if differing:
            shown = "; ".join(f"{k}: saved {theirs.get(k)!r}, now {mine[k]!r}" for k in differing)
            raise RunError(f"cannot resume {path}: it was saved with other settings ({shown})")
        if (self.folder / CURVES).exists():
            self.saved = saved

    def run(self, on_chunk: Callable[[int, int], None] | None = None) -> tuple[dict, pd.DataFrame]:
        """``(study.json's content, curves)``: the saved ones, or a fresh study's (written)."""
        if self.saved is not None:
            return self.saved, pd.read_parquet(self.folder / CURVES)
        config = self.config
        result = study(
            config.optimizer, config.space, config.workload, trials=config.trials,
            studies=config.studies, seed=config.seed, steps=config.steps,
            halving=config.halving, schedule=config.schedule, chunk_size=1, on_chunk=on_chunk,
        )  # fmt: skip
        content = summary(config, result)
        best = best_trial(result)
        files.write_json(self.folder / BEST, best)
        stream = files.ParquetStream(self.folder / CURVES)
        stream.write({name: result.curves[name].to_numpy() for name in result.curves.columns})
        stream.close()
        from jaxopt_lab.tuning.plots import plot_sensitivity

        figure = plot_sensitivity(result.final(), result.workload, config.optimizer)
        files.save_figure(figure, self.folder / FIGURE)
        files.write_json(self.folder / STUDY, content)  # last: its presence means complete
        return content, result.curves
