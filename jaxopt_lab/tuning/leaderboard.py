"""The leaderboard's computation: several optimizers tuned on several workloads, scored as
AlgoPerf scores them.

Each (optimizer, workload) *cell* is one :func:`~jaxopt_lab.tuning.study.study` of the
optimizer's space (its default space, :mod:`.default_spaces`, unless one is given) with
``trials`` trials x ``studies`` studies, AlgoPerf's external tuning (5 x 5 there; 5 x 3 by
default here): :func:`run_cell`. Its time to target (:func:`jaxopt_lab.scoring.time_to_target`)
is counted in steps, which do not depend on the hardware, and in seconds: steps x the
optimizer's seconds per step on that workload, measured alone (one network, no evaluation,
after compiling; :func:`seconds_per_step`) in the same run, because the lanes of a study share
their program's wall time. The two time tables (:func:`time_tables`) give two sets of
performance profiles and scores (:func:`scored`, :mod:`jaxopt_lab.scoring`);
:func:`scores_markdown` and :func:`times_markdown` are their tables.

The run that owns a leaderboard's folder (its lock, resume, cells and outputs) is
:class:`jaxopt_lab.runs.leaderboard_folder.LeaderboardRun`::

    config = LeaderboardConfig(optimizers=("adam", "sgd"), workloads=("rosenbrock",))
    with LeaderboardRun("runs/board", config, resume=True) as run:
        result = run.run(on_cell=print)
    result.scores            # DataFrame: score_steps, score_seconds by optimizer
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from jaxopt_lab.optimizers import OPTIMIZERS
from jaxopt_lab.scoring import leaderboard_score, performance_profiles, time_to_target
from jaxopt_lab.tuning.default_spaces import check_space, default_space, optimizer_settings
from jaxopt_lab.tuning.search_space import SearchSpaceError, parse_search_space

DEFAULT_OPTIMIZERS = (
    "nadamw",
    "adamw",
    "nesterov",
    "adam",
    "lion",
    "muon",
    "schedule_free_adamw",
    "sgd",
    "momentum",
    "adagrad",
)
"""AlgoPerf's NAdamW, AdamW and Nesterov baselines, Lion, Muon, schedule-free AdamW, and the
tutorial's four (SGD, momentum, Adagrad, Adam)."""

DEFAULT_WORKLOADS = (
    "noisy_quadratic",
    "rosenbrock",
    "mnist_mlp",
    "tutorial_mlp",
    "modular_addition",
)

TIMING_STEPS = 200
"""Steps per timing of one network (the seconds per step); the minimum of 3 timings is kept."""


class LeaderboardError(ValueError):
    """Bad input to a leaderboard, or a folder that cannot hold it; the message says which."""


def _workloads_module():
    from jaxopt_lab import workloads  # the workloads load data lazily; import them so too

    return workloads


@dataclass(frozen=True)
class LeaderboardConfig:
    """Everything that determines a leaderboard's numbers.

    ``spaces``: optimizer -> search space (AlgoPerf's format) replacing its default space.
    ``steps``: workload -> step budget replacing the workload's own.
    """

    optimizers: tuple[str, ...] = DEFAULT_OPTIMIZERS
    workloads: tuple[str, ...] = DEFAULT_WORKLOADS
    trials: int = 5
    studies: int = 3
    seed: int = 0
    halving: int | None = None
    spaces: Mapping[str, Any] = field(default_factory=dict)
    steps: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))


def _positive_integer(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise LeaderboardError(f"{name} must be a positive integer, got {value!r}")


def check_config(config: LeaderboardConfig) -> None:
    """Raise :class:`LeaderboardError` (one line) for anything that would fail later.

    Checks names (optimizers, workloads; no repeats), counts, and every space against its
    optimizer and each workload (a ``label_smoothing`` only where the workload has one).
    Builds no workload's data.
    """
    _positive_integer("trials", config.trials)
    _positive_integer("studies", config.studies)
    if config.halving is not None:
        _positive_integer("halving", config.halving)
    for kind, names, valid in (
        ("optimizer", config.optimizers, tuple(OPTIMIZERS)),
        ("workload", config.workloads, tuple(_workloads_module().WORKLOADS)),
    ):
        if not names:
            raise LeaderboardError(f"{kind}s: none given")
        for name in names:
            if name not in valid:
                raise LeaderboardError(f"{kind}: unknown {name!r} (choose from {', '.join(valid)})")
        repeated = sorted({name for name in names if list(names).count(name) > 1})
        if repeated:
            raise LeaderboardError(f"{kind}s: {', '.join(repeated)} listed twice")
    for name in config.spaces:
        if name not in config.optimizers:
            raise LeaderboardError(f"space: for {name!r}, which is not among the optimizers")
    for name, steps in config.steps.items():
        if name not in config.workloads:
            raise LeaderboardError(f"steps: for {name!r}, which is not among the workloads")
        _positive_integer(f"steps of {name}", steps)
    for optimizer in config.optimizers:
        if optimizer in config.spaces:
            try:
                parse_search_space(config.spaces[optimizer])
            except SearchSpaceError as error:
                raise LeaderboardError(f"space of {optimizer}: {error}") from None


def space_for(config: LeaderboardConfig, optimizer: str, workload: Any) -> Any:
    """The space of ``optimizer`` on ``workload``: the given one, or the default (with AlgoPerf's
    label smoothing where the workload has one), checked against both."""
    has_smoothing = workload.label_smoothing is not None
    if optimizer in config.spaces:
        space = config.spaces[optimizer]
    else:
        space = default_space(optimizer, label_smoothing=has_smoothing)
    try:
        check_space(
            optimizer,
            space,
            workload_hyperparameters=("label_smoothing",) if has_smoothing else (),
        )
    except SearchSpaceError as error:
        raise LeaderboardError(f"{error} (on {workload.name})") from None
    return space


def seconds_per_step(
    optimizer: str,
    workload: Any,
    point: Mapping[str, float],
    *,
    steps: int = TIMING_STEPS,
    repeats: int = 3,
) -> float:
    """Wall seconds per training step of one network (``optimizer`` at ``point``) on
    ``workload``: a compiled ``lax.scan`` of ``steps`` steps (batch, gradient, update; no
    evaluation), timed ``repeats`` times after compiling; the fastest timing / ``steps``."""
    smoothing = float(point.get("label_smoothing", 0.0))
    own = {name: value for name, value in point.items() if name != "label_smoothing"}
    budget = workload.steps
    make = OPTIMIZERS[optimizer]

    def train(params, key, *train_arrays):
        optimizer_ = make(**optimizer_settings(optimizer, own, total_steps=budget))
        gradient = jax.value_and_grad(workload.loss)

        def step(carry, index):
            params, state = carry
            batch = workload.sample_batch(train_arrays, jax.random.fold_in(key, index))
            loss, grads = gradient(params, batch, jnp.float32(smoothing))
            updates, state = optimizer_.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), loss

        initial = (params, optimizer_.init(params))
        (params, _), losses = jax.lax.scan(step, initial, jnp.arange(steps))
        return params, losses

    key = jax.random.key(0)
    params = workload.init_params(key)
    arrays = tuple(jnp.asarray(array) for array in workload.train)
    compiled = jax.jit(train).lower(params, key, *arrays).compile()
    timings = []
    for _ in range(repeats):
        begin = time.perf_counter()
        jax.block_until_ready(compiled(params, key, *arrays))
        timings.append(time.perf_counter() - begin)
    return min(timings) / steps


@dataclass
class Cell:
    """One (optimizer, workload) study and its times to target."""

    optimizer: str
    workload: str
    steps_to_target: float
    seconds_to_target: float
    seconds_per_step: float
    studies: list[dict[str, Any]]
    best_points: list[dict[str, Any]]
    compile_seconds: float
    run_seconds: float
    lane_steps: int
    budget: int
    target: float
    direction: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def run_cell(
    config: LeaderboardConfig,
    optimizer: str,
    workload: Any,
    *,
    run_study: Callable[..., Any] | None = None,
) -> tuple[Cell, pd.DataFrame]:
    """Study ``optimizer`` on ``workload`` and measure its times to target; also its curves."""
    if run_study is None:
        from jaxopt_lab.tuning.study import study as run_study
    space = space_for(config, optimizer, workload)
    budget = config.steps.get(workload.name, workload.steps)
    result = run_study(
        optimizer,
        space,
        workload,
        trials=config.trials,
        studies=config.studies,
        seed=config.seed,
        steps=budget,
        halving=config.halving,
    )
    step_seconds = seconds_per_step(optimizer, workload, result.points[0])
    curves = result.curves.assign(optimizer=optimizer, workload=workload.name)
    cell = Cell(
        optimizer=optimizer,
        workload=workload.name,
        steps_to_target=np.inf,
        seconds_to_target=np.inf,
        seconds_per_step=step_seconds,
        studies=[],
        best_points=[],
        compile_seconds=float(getattr(result, "compile_seconds", float("nan"))),
        run_seconds=float(getattr(result, "run_seconds", float("nan"))),
        lane_steps=int(getattr(result, "lane_steps", 0)),
        budget=int(budget),
        target=float(workload.target),
        direction=workload.direction,
    )
    return timed(cell, curves, workload), curves


_CURVE_COLUMNS = {"study", "trial", "step", "train_loss", "validation_metric", "seconds"}


def timed(cell: Cell, curves: pd.DataFrame, workload: Any) -> Cell:
    """``cell`` with its times to target on ``workload``'s target, from its ``curves``.

    Also the winning trial of each study that reached the target, with its hyperparameters
    (read from the curves' hyperparameter columns).
    """
    timing = time_to_target(
        curves,
        target=workload.target,
        direction=workload.direction,
        seconds_per_step=cell.seconds_per_step,
    )
    names = [c for c in curves.columns if c not in _CURVE_COLUMNS | {"optimizer", "workload"}]
    first_rows = curves.drop_duplicates(["study", "trial"]).set_index(["study", "trial"])
    studies, best_points = [], []
    for row in timing.studies.itertuples():
        reached = bool(np.isfinite(row.step))
        studies.append({"study": int(row.study), "trial": int(row.trial) if reached else None,
                        "steps_to_target": float(row.step)})  # fmt: skip
        if reached:
            values = first_rows.loc[(row.study, row.trial), names]
            best_points.append({"study": int(row.study), "trial": int(row.trial),
                                **{n: float(values[n]) for n in names}})  # fmt: skip
    return dataclasses.replace(
        cell,
        steps_to_target=timing.steps,
        seconds_to_target=timing.seconds,
        studies=studies,
        best_points=best_points,
        target=float(workload.target),
        direction=workload.direction,
    )


def time_tables(cells: Sequence[Cell], config: LeaderboardConfig) -> dict[str, pd.DataFrame]:
    """``{"steps": t, "seconds": t}``: rows optimizers, columns workloads, ∞ for a miss."""
    tables = {}
    for unit, attribute in (("steps", "steps_to_target"), ("seconds", "seconds_to_target")):
        table = pd.DataFrame(
            np.inf, index=list(config.optimizers), columns=list(config.workloads), dtype=float
        )
        for cell in cells:
            table.loc[cell.optimizer, cell.workload] = getattr(cell, attribute)
        tables[unit] = table
    return tables


def scored(times: Mapping[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """The performance profiles of each time table (:func:`time_tables`), and the scores: a
    DataFrame indexed by optimizer with a column ``score_<unit>`` per table."""
    profiles = {unit: performance_profiles(table) for unit, table in times.items()}
    scores = pd.DataFrame(
        {f"score_{unit}": leaderboard_score(profile) for unit, profile in profiles.items()}
    )
    return profiles, scores


def target_text(direction: str, target: float) -> str:
    """A target as the tables head it: ``>= 0.97`` for a metric to maximize, ``<= 0.11`` else."""
    return f"{'>=' if direction == 'maximize' else '<='} {target:g}"


def _format_time(value: float, unit: str) -> str:
    if not np.isfinite(value):
        return "∞"
    return f"{value:.0f}" if unit == "steps" else f"{value:.3g}"


def median_study_trial(
    studies: Sequence[Mapping[str, Any]], curves: pd.DataFrame, direction: str
) -> tuple[int, int]:
    """The ``(study, trial)`` that shows a cell's curve: its median study's best trial.

    ``studies``: a :class:`Cell`'s ``studies`` (each study's ``steps_to_target``, ∞ or
    ``None`` for a miss, and the ``trial`` that reached the target first: AlgoPerf's best
    trial, as the times use it); ``curves``: the cell's curves. The median study is the one
    whose time is the median of the studies' times (the faster of the two middle ones for an
    even count; ties by study index), so with an odd count its best trial reaches the target at
    the cell's time.
    A study where no trial reached the target shows the trial with the best final
    ``validation_metric`` (by ``direction``; NaN worst; ties by trial index).
    """

    def steps(study: Mapping[str, Any]) -> float:
        value = study["steps_to_target"]
        return np.inf if value is None else float(value)

    ordered = sorted(studies, key=lambda study: (steps(study), int(study["study"])))
    median = ordered[(len(ordered) - 1) // 2]
    index = int(median["study"])
    if median["trial"] is not None and np.isfinite(steps(median)):
        return index, int(median["trial"])
    rows = curves[curves["study"] == index].sort_values(["trial", "step"])
    final = rows.groupby("trial").tail(1).set_index("trial")["validation_metric"].astype(float)
    signed = final if direction == "maximize" else -final
    return index, int(signed.fillna(-np.inf).idxmax())


SCORE_HEADERS = ("optimizer", "score (steps)", "score (seconds)")


def score_rows(scores: pd.DataFrame) -> list[list[str]]:
    """The rows of the score table (under ``SCORE_HEADERS``), best first (by the score in
    steps, then in seconds)."""
    ordered = scores.sort_values(["score_steps", "score_seconds"], ascending=False)
    return [
        [name, f"{row.score_steps:.3f}", f"{row.score_seconds:.3f}"]
        for name, row in ordered.iterrows()
    ]


def time_table_rows(
    table: pd.DataFrame, unit: str, targets: Mapping[str, str]
) -> tuple[list[str], list[list[str]]]:
    """The headers and rows of one time-to-target table (:func:`time_tables`), ∞ for a miss;
    ``targets``: workload -> :func:`target_text`."""
    headers = ["optimizer", *[f"{name} ({targets[name]})" for name in table.columns]]
    rows = [[name, *[_format_time(value, unit) for value in row]] for name, row in table.iterrows()]
    return headers, rows


def scores_markdown(scores: pd.DataFrame) -> str:
    """The score table, best first (by the score in steps)."""
    from jaxopt_lab.report import markdown_table

    return markdown_table(score_rows(scores), list(SCORE_HEADERS))


def times_markdown(times: Mapping[str, pd.DataFrame], targets: Mapping[str, str]) -> str:
    """The time-to-target tables (steps, then seconds), ∞ for a miss."""
    from jaxopt_lab.report import markdown_table

    parts = []
    for unit, table in times.items():
        headers, rows = time_table_rows(table, unit, targets)
        align = ["left", *["right"] * len(table.columns)]
        parts.append(f"Median time to target over studies, in {unit}:\n\n"
                     + markdown_table(rows, headers, align=align))  # fmt: skip
    return "\n\n".join(parts) + "\n"
