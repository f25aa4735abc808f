"""The tuning's figures: a study's learning-rate sensitivity, in DeepOBS's style, and a
leaderboard's performance profiles.

DeepOBS (Schneider, Balles & Hennig 2019) plots, for each optimizer, the final
performance of every tuning run against its learning rate on a log axis; a flat
curve means an optimizer that is easy to tune. Here: one marker per (study,
trial), the median over studies joined by a line, the target as a dashed line.
The profiles are AlgoPerf's (:mod:`jaxopt_lab.scoring`), drawn as steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from jaxopt_lab.workloads import Workload


def plot_sensitivity(final: pd.DataFrame, workload: Workload, optimizer: str):
    """Final validation metric vs learning rate.

    ``final``: :meth:`~jaxopt_lab.tuning.study.StudyResult.final`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5.5, 3.8))
    if "learning_rate" in final:
        x_name = "learning_rate"
    else:
        x_name = "trial"
    metric = final["validation_metric"].to_numpy(dtype=float)
    finite = np.isfinite(metric)
    axes.scatter(final[x_name][finite], metric[finite], s=18, alpha=0.6, label="trials")
    diverged = final[~finite]
    if len(diverged):
        top = np.nanmax(metric) if finite.any() else 1.0
        axes.scatter(diverged[x_name], np.full(len(diverged), top), marker="x", color="red",
                     label="diverged (NaN)")  # fmt: skip
    median = final[finite].groupby(x_name)["validation_metric"].median()
    axes.plot(median.index, median.to_numpy(), color="black", linewidth=1, label="median")
    axes.axhline(workload.target, color="gray", linestyle="--", linewidth=1, label="target")
    if x_name == "learning_rate":
        axes.set_xscale("log")
    if workload.direction == "minimize" and finite.any() and np.nanmin(metric) > 0:
        axes.set_yscale("log")
    axes.set_xlabel(x_name.replace("_", " "))
    axes.set_ylabel(f"final {workload.metric_name}")
    axes.set_title(f"{optimizer} on {workload.name}: learning-rate sensitivity")
    axes.legend(fontsize=8)
    figure.tight_layout()
    return figure


def plot_profiles(profiles: dict[str, pd.DataFrame]) -> Any:
    """A leaderboard's performance profiles: rho(tau) of every optimizer, one panel per time
    unit (:func:`jaxopt_lab.tuning.leaderboard.scored`); a matplotlib Figure."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13, 4.8), layout="constrained")
    axes = figure.subplots(1, len(profiles), sharey=True, squeeze=False)[0]
    for axis, (unit, profile) in zip(axes, profiles.items(), strict=True):
        taus = profile.columns.to_numpy(dtype=float)
        for name, rho in profile.iterrows():
            axis.step(taus, rho.to_numpy(), where="post", label=name)
        axis.set_xlabel(f"τ: time to target / the best optimizer's ({unit})")
        axis.set_xlim(taus[0], taus[-1])
        axis.set_ylim(-0.02, 1.02)
        axis.set_title(f"Performance profiles, time in {unit}")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("ρ(τ): fraction of workloads")
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside right upper", fontsize="small")
    return figure
