"""AlgoPerf's scoring: time to target, performance profiles and the leaderboard score.

As ``scoring/performance_profile.py`` of mlcommons/algorithmic-efficiency (Dahl et al. 2023,
"Benchmarking Neural Network Training Algorithms", arXiv:2306.07179, section 4.5):

- a study's time is that of the trial that reaches the target at the earliest evaluation
  (``get_best_trial_index``); a study where no trial reaches it takes ∞;
- a workload's time is the **median over studies**, ∞ included (``np.median`` of the study
  times): with 3 studies, ∞ when 2 or 3 of them miss;
- with t[o, w] the time of optimizer o on workload w and b[w] = min_o t[o, w], a time above
  4 b[w] counts as ∞; r[o, w] = t[o, w] / b[w];
- rho_o(tau) = #{w : r[o, w] <= tau} / #workloads at 100 evenly spaced tau in [1, 4];
- the score is the trapezoidal integral of rho_o over tau, divided by 3 (``normalize=True``),
  in [0, 1]: 1 when o is the fastest on every workload.

A NaN metric never reaches a target (a diverged trial is a miss, never an error).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

MAX_RATIO = 4.0
"""AlgoPerf's cut and the profile's right end: a time above 4x the best counts as a miss."""

NUM_TAUS = 100
DIRECTIONS = ("maximize", "minimize")


def _check_times(times: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(times, pd.DataFrame) or times.empty:
        raise ValueError("times: a non-empty DataFrame (optimizers x workloads) is needed")
    values = times.to_numpy(dtype=float)
    if np.isnan(values).any():
        raise ValueError("times: NaN found; a workload an optimizer missed takes inf")
    if (values <= 0).any():
        raise ValueError("times: every time must be positive (inf for a miss)")
    return times.astype(float)


def capped_ratios(times: pd.DataFrame) -> pd.DataFrame:
    """r[o, w] = t[o, w] / min_o t[o, w], ∞ where t > 4 min_o t or where t is ∞."""
    times = _check_times(times)
    best = times.min(axis=0)
    ratios = times / best
    kept = np.isfinite(times) & (times <= MAX_RATIO * best)
    return ratios.where(kept, np.inf)


def performance_profiles(times: pd.DataFrame) -> pd.DataFrame:
    """rho[o, tau]: the fraction of workloads that o reaches within tau times the best.

    ``times``: rows optimizers, columns workloads, ∞ for a miss (positive, no NaN). Returns a
    DataFrame indexed like ``times``' rows, one column per tau (100 evenly spaced in [1, 4]).
    """
    ratios = capped_ratios(times).to_numpy()
    taus = np.linspace(1.0, MAX_RATIO, NUM_TAUS)
    fractions = (ratios[:, :, None] <= taus[None, None, :]).mean(axis=1)
    return pd.DataFrame(fractions, index=times.index, columns=pd.Index(taus, name="tau"))


def leaderboard_score(profiles: pd.DataFrame) -> pd.Series:
    """The trapezoidal integral of each row of ``profiles`` over tau, divided by the tau range."""
    taus = profiles.columns.to_numpy(dtype=float)
    widths = np.diff(taus)
    rho = profiles.to_numpy(dtype=float)
    area = ((rho[:, 1:] + rho[:, :-1]) / 2 * widths).sum(axis=1)
    return pd.Series(area / (taus[-1] - taus[0]), index=profiles.index, name="score")


class TimeToTarget(NamedTuple):
    """A workload's time to target for one optimizer.

    ``steps``: the median over studies (∞ if at least half miss); ``seconds``: ``steps`` times
    the seconds per step (NaN when none was given); ``studies``: one row per study with the
    ``trial`` that reached the target first and its ``step`` (NaN trial, ∞ step for a miss).
    """

    steps: float
    seconds: float
    studies: pd.DataFrame


def _reached(metric: pd.Series, target: float, direction: str) -> pd.Series:
    """Whether each evaluation reaches the target (NaN never does)."""
    if direction == "maximize":
        return metric >= target
    return metric <= target


def time_to_target(
    curves: pd.DataFrame,
    *,
    target: float,
    direction: str,
    seconds_per_step: float | None = None,
) -> TimeToTarget:
    """AlgoPerf's time to target from a study's ``curves`` (columns study, trial, step,
    validation_metric; one row per evaluation).

    A study's time is the first step at which any of its trials reaches ``target`` (``>=`` when
    ``direction="maximize"``, ``<=`` when ``"minimize"``); the workload's is the median over the
    studies (∞ included). ``seconds_per_step``: the optimizer's step time on this workload
    measured alone; the time in seconds is then steps x seconds_per_step.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction: {direction!r} is not one of {DIRECTIONS}")
    missing = {"study", "trial", "step", "validation_metric"} - set(curves.columns)
    if missing:
        raise ValueError(f"curves: missing columns {sorted(missing)}")
    if curves.empty:
        raise ValueError("curves: no evaluations")
    if seconds_per_step is not None and not seconds_per_step > 0:
        raise ValueError(f"seconds_per_step must be positive, got {seconds_per_step!r}")
    hits = curves[_reached(curves["validation_metric"], target, direction)]
    first = hits.sort_values(["step", "trial"]).groupby("study").head(1).set_index("study")
    studies = pd.DataFrame(index=pd.Index(sorted(curves["study"].unique()), name="study"))
    studies["trial"] = first["trial"].reindex(studies.index)
    studies["step"] = first["step"].reindex(studies.index).astype(float).fillna(np.inf)
    steps = float(np.median(studies["step"].to_numpy()))
    seconds = steps * seconds_per_step if seconds_per_step is not None else float("nan")
    return TimeToTarget(steps, seconds, studies.reset_index())
