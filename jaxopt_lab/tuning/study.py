"""Tuning studies: every trial of every study trains as a lane of one compiled program.

    result = study("adamw", space, "mnist_mlp", trials=16, studies=3)
    result.curves          # one row per (study, trial, evaluation)

A *trial* is one point of the search space trained for the workload's step
budget; a *study* is ``trials`` trials drawn from the space (AlgoPerf's
external tuning: every study draws the same set of points and differs by its
seed, which fixes the initial parameters and the batch order). Studies are the
points of a :class:`~jaxopt_lab.grid.GridMap` (axis ``"study"``), so they are
sharded over devices and hosts as the sweeps are; inside a study the trials are
``vmap``-ped lanes that share the study's batches, and the optimizer is built
*inside* the traced function from the lane's hyperparameters (the lab
optimizers take traced hyperparameters), so one program serves any point.

The program is a ``lax.scan`` over evaluation windows of ``eval_every`` steps;
after each window it measures every lane's validation metric. With
``halving=η`` it is successive halving (:mod:`jaxopt_lab.tuning.halving`)
inside that one program: a Python loop over rungs with static lane counts
``n, n/η, ...``; at each rung end ``lax.top_k`` picks each study's best lanes
by validation metric (a NaN is worst) and gathers their parameters, optimizer
states and hyperparameters, so that later rungs run on fewer lanes. A
survivor's curve is its curve in the full study; a stopped trial has no rows
after its rung. A diverging trial (NaN) keeps running as NaN, never reaches a
target and never stops the others.

Why studies and not lanes are the sharded points: halving compares a study's
trials with each other, so a study's lanes live on one device. (Sharding lanes
would need a cross-device ``top_k`` at every rung.)

Differences from AlgoPerf: AlgoPerf draws a fresh seed per trial; here a
study's trials share its seed (common random numbers, so a trial's curve is
reproducible alone: :func:`study` with a one-point list space and the same seed
trains the same network on the same batches).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from jaxopt_lab.grid import GridMap, as_make_optimizer, hyperparameter_names
from jaxopt_lab.mlp import check_seed
from jaxopt_lab.tuning.default_spaces import (
    check_space,
    learning_rate_schedule,
    optimizer_settings,
)
from jaxopt_lab.tuning.halving import RungPlan, rung_plan
from jaxopt_lab.tuning.search_space import SearchSpaceError, search_points
from jaxopt_lab.workloads import Workload, get_workload

WORKLOAD_HYPERPARAMETERS = ("label_smoothing",)
"""Hyperparameters of the workload (its loss), not of the optimizer."""

CURVE_COLUMNS = ("study", "trial", "step", "train_loss", "validation_metric", "seconds")


class StudyError(ValueError):
    """Bad input to :func:`study` (the message names the argument)."""


# --------------------------------------------------------------------------- the trials


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise StudyError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def trial_points(space: Any, trials: int) -> list[dict[str, float]]:
    """The points of ``space`` for ``trials`` trials (:func:`~jaxopt_lab.tuning.search_points`):
    AlgoPerf's Halton points of a dict space, or the first ``trials`` points of a list space
    (fewer when the list is shorter, as AlgoPerf)."""
    try:
        return [dict(point) for point in search_points(space, trials)]
    except SearchSpaceError as error:
        raise StudyError(str(error)) from None


def hyperparameter_table(points: list[dict[str, float]]) -> tuple[tuple[str, ...], np.ndarray]:
    """``(names, table[trial, name])`` in float32; every point must name the same settings."""
    names = tuple(points[0])
    for index, point in enumerate(points):
        if set(point) != set(names):
            raise StudyError(
                f"space[{index}] names {sorted(point)}, space[0] names {sorted(names)}: "
                "every point must set the same hyperparameters"
            )
    try:
        table = np.array([[float(point[n]) for n in names] for point in points], np.float32)
    except (TypeError, ValueError) as error:
        raise StudyError(f"space: every hyperparameter value must be a number ({error})") from None
    if not np.all(np.isfinite(table)):
        raise StudyError("space: every hyperparameter value must be finite")
    return names, table


def lab_settings(optimizer: str | Callable, names: tuple[str, ...], workload: Workload,
                 steps: int, schedule: str) -> Callable[[dict], dict]:  # fmt: skip
    """``point -> lab optimizer kwargs`` (traced values), checked against the optimizer.

    A named optimizer's point is in AlgoPerf's names and goes through
    :func:`~jaxopt_lab.tuning.optimizer_settings` (``learning_rate`` and
    ``warmup_factor`` become ``schedule`` over ``steps``); a function's point holds its
    own keyword arguments, passed as they are.
    """
    own = tuple(n for n in names if n not in WORKLOAD_HYPERPARAMETERS)
    for name in names:
        if name in WORKLOAD_HYPERPARAMETERS and workload.label_smoothing is None:
            raise StudyError(f"space: workload {workload.name!r} has no {name}")
    if isinstance(optimizer, str):
        try:
            as_make_optimizer(optimizer)
            check_space(optimizer, [dict.fromkeys(names, 0.0)])
            learning_rate_schedule(optimizer, {"learning_rate": 1.0}, total_steps=steps,
                                   schedule=schedule)  # fmt: skip
        except ValueError as error:
            raise StudyError(str(error)) from None
        if "learning_rate" not in own:
            raise StudyError(f"space: {optimizer} needs a 'learning_rate'")
        return _named_settings(optimizer, steps, schedule)
    make_optimizer = as_make_optimizer(optimizer)
    valid = hyperparameter_names(make_optimizer)
    for name in own:
        if valid and name not in valid:
            raise StudyError(
                f"space: unknown hyperparameter {name!r}; valid hyperparameters of "
                f"{getattr(make_optimizer, '__name__', 'the optimizer')}: {', '.join(valid)}"
            )
    return dict


@functools.lru_cache(maxsize=256)
def _named_settings(optimizer: str, steps: int, schedule: str) -> Callable[[dict], dict]:
    """One function object per setting, so that the compiled program is reused (cached)."""

    def settings(point: dict) -> dict:
        return optimizer_settings(optimizer, point, total_steps=steps, schedule=schedule)

    return settings


# --------------------------------------------------------------------------- the program


@functools.lru_cache(maxsize=32)
def _study_program(make_optimizer: Callable, settings: Callable, workload: Workload,
                   names: tuple[str, ...], plan: RungPlan) -> Callable:  # fmt: skip
    """The point function of a study: ``(point, table, seed, *arrays) -> outputs``.

    ``outputs``: ``train_loss``, ``validation_metric`` and ``evaluated``, each
    ``(trials, evaluations)``; rows of stopped trials hold NaN / False.
    """
    eval_every = workload.eval_every
    train_count = len(workload.train)
    smoothing_at = names.index("label_smoothing") if "label_smoothing" in names else None

    def lane_optimizer(row: jax.Array) -> optax.GradientTransformation:
        point = {n: row[i] for i, n in enumerate(names) if n not in WORKLOAD_HYPERPARAMETERS}
        return make_optimizer(**settings(point))

    def run_study(point, table, seed, *arrays):
        train, validation = arrays[:train_count], arrays[train_count:]
        key = jax.random.fold_in(jax.random.key(seed), point["study"])
        init_key, batch_key = jax.random.split(key)
        params = workload.init_params(init_key)

        def lane_init(row):
            return params, lane_optimizer(row).init(params)

        def lane_segment(carry, row, first_evaluation, count):
            optimizer = lane_optimizer(row)
            smoothing = 0.0 if smoothing_at is None else row[smoothing_at]
            gradient = jax.value_and_grad(workload.loss)

            def step(carry, step_index):
                params, state = carry
                batch = workload.sample_batch(train, jax.random.fold_in(batch_key, step_index))
                loss, grads = gradient(params, batch, smoothing)
                updates, state = optimizer.update(grads, state, params)
                return (optax.apply_updates(params, updates), state), loss

            def window(carry, evaluation):
                steps = evaluation * eval_every + jnp.arange(eval_every, dtype=jnp.int32)
                carry, losses = jax.lax.scan(step, carry, steps)
                metric = workload.validation_metric(carry[0], validation)
                return carry, (jnp.mean(losses), metric.astype(jnp.float32))

            evaluations = first_evaluation + jnp.arange(count, dtype=jnp.int32)
            return jax.lax.scan(window, carry, evaluations)

        trials, total = table.shape[0], plan.ends[-1]
        losses = jnp.full((trials, total), jnp.nan, jnp.float32)
        metrics = jnp.full((trials, total), jnp.nan, jnp.float32)
        evaluated = jnp.zeros((trials, total), bool)
        lanes = jnp.arange(trials)
        rows = table
        carry = jax.vmap(lane_init)(rows)
        start = 0
        for segment, end in enumerate(plan.ends):
            run = functools.partial(lane_segment, first_evaluation=start, count=end - start)
            carry, (segment_losses, segment_metrics) = jax.vmap(run)(carry, rows)
            losses = losses.at[lanes, start:end].set(segment_losses)
            metrics = metrics.at[lanes, start:end].set(segment_metrics)
            evaluated = evaluated.at[lanes, start:end].set(True)
            if segment + 1 < len(plan.ends):
                keep = plan.lanes[segment + 1]
                last = segment_metrics[:, -1]
                score = last if workload.direction == "maximize" else -last
                score = jnp.where(jnp.isnan(score), -jnp.inf, score)
                _, best = jax.lax.top_k(score, keep)
                carry = jax.tree.map(lambda leaf, best=best: leaf[best], carry)
                rows, lanes = rows[best], lanes[best]
            start = end
        return {"train_loss": losses, "validation_metric": metrics, "evaluated": evaluated}

    return run_study


# --------------------------------------------------------------------------- the result


@dataclass
class StudyResult:
    """What :func:`study` returns.

    ``curves``: one row per (study, trial, evaluation) that ran: ``study``,
    ``trial``, ``step`` (updates done), ``train_loss`` (mean over the window's
    batches), ``validation_metric``, ``seconds`` (the program's wall time
    prorated by lane-steps: lanes of one program share it), then one column per
    hyperparameter. ``points``: the trials' hyperparameters. ``lane_steps``: steps
    run, summed over lanes and studies; ``full_lane_steps``: the same without halving.
    """

    curves: pd.DataFrame
    optimizer: str
    workload: Workload
    points: list[dict[str, float]]
    studies: int
    steps: int
    halving: int | None
    lane_steps: int
    full_lane_steps: int
    compile_seconds: float
    run_seconds: float
    device_count: int

    @property
    def trials(self) -> int:
        return len(self.points)

    @property
    def compute_fraction(self) -> float:
        """``lane_steps / full_lane_steps``: the share of the full study's compute run."""
        return self.lane_steps / self.full_lane_steps

    def final(self) -> pd.DataFrame:
        """Each (study, trial)'s last evaluation, with ``reached`` (the workload's target)."""
        last = self.curves.sort_values("step").groupby(["study", "trial"]).tail(1)
        last = last.sort_values(["study", "trial"]).reset_index(drop=True)
        return last.assign(reached=self.workload.reached(last["validation_metric"]))

    def best_trials(self) -> pd.DataFrame:
        """Per study, the trial with the best validation metric at the full budget."""
        final = self.final()
        final = final[final["step"] == self.steps]
        score = self.workload.better(final["validation_metric"])
        order = final.assign(score=score).sort_values(["study", "score"], ascending=[True, False])
        return order.groupby("study").head(1).drop(columns="score").reset_index(drop=True)

    def steps_to_target(self) -> pd.DataFrame:
        """Per (study, trial), the first evaluated step that reached the target (NaN: never)."""
        curves = self.curves.assign(reached=self.workload.reached(self.curves["validation_metric"]))
        hit = curves[curves["reached"]].groupby(["study", "trial"])["step"].min()
        index = pd.MultiIndex.from_product(
            [range(self.studies), range(self.trials)], names=["study", "trial"]
        )
        return hit.reindex(index).rename("steps_to_target").reset_index()


# --------------------------------------------------------------------------- the study


def study_block(devices: Sequence[jax.Device]) -> int | None:
    """How a device runs its studies: on CPUs one after another (``1``), elsewhere vmapped.

    The trials of a study are vmapped lanes that share the study's batches, which are
    then unbatched inputs. A second ``vmap`` over studies batches those inputs too, and
    XLA:CPU then runs each step about 3x slower (a 16-trial Adam study of
    ``noisy_quadratic``: 2.3 ms per step under a ``vmap`` over one study, 0.77 ms under
    ``lax.map``). A CPU has no parallel width to gain from it, so its studies run in
    sequence (``lax.map``); an accelerator keeps the ``vmap``, for its width.
    """
    return 1 if all(device.platform == "cpu" for device in devices) else None


def study(
    optimizer: str | Callable[..., optax.GradientTransformation],
    space: Any,
    workload: Workload | str,
    *,
    trials: int,
    studies: int = 1,
    seed: int = 0,
    steps: int | None = None,
    halving: int | None = None,
    schedule: str = "warmup_cosine",
    devices: Sequence[jax.Device] | None = None,
    chunk_size: int | None = None,
    on_chunk: Callable[[int, int], None] | None = None,
) -> StudyResult:
    """Run ``studies`` studies of ``trials`` trials of ``optimizer`` on ``workload``, at once.

    Args:
      optimizer: a name in ``OPTIMIZERS`` or a function of hyperparameters.
      space: a list of points (dicts), or an AlgoPerf search-space dict.
      workload: a :class:`~jaxopt_lab.workloads.Workload` or a name in ``WORKLOADS``.
      trials: points per study (> 0); studies: independent studies (> 0), study
        ``s`` seeded by ``fold_in(key(seed), s)``.
      steps: the step budget (default the workload's), a multiple of its ``eval_every``.
      halving: ``None``, or the reduction factor η >= 2 of successive halving.
      schedule: of a named optimizer's learning rate, ``"warmup_cosine"`` (AlgoPerf's:
        linear warmup over ``warmup_factor`` of ``steps``, then cosine decay to 0) or
        ``"constant"``.
      devices: to shard the studies over (default every device).
      chunk_size: studies run at once (default all); ``on_chunk(done, studies)`` is
        called after each chunk (for a progress bar).

    Raises :class:`~jaxopt_lab.tuning.study.StudyError` (a ``ValueError``) for bad input,
    naming the argument.
    """
    trials = _positive("trials", trials)
    studies = _positive("studies", studies)
    seed = check_seed(seed)
    try:
        workload = get_workload(workload)
    except ValueError as error:
        raise StudyError(f"workload: {error}") from None
    steps = workload.steps if steps is None else _positive("steps", steps)
    if steps % workload.eval_every:
        raise StudyError(
            f"steps ({steps}) must be a multiple of {workload.name}'s eval_every "
            f"({workload.eval_every})"
        )
    points = trial_points(space, trials)
    try:
        plan = rung_plan(steps // workload.eval_every, len(points), halving)
    except ValueError as error:
        raise StudyError(str(error)) from None
    names, table = hyperparameter_table(points)
    settings = lab_settings(optimizer, names, workload, steps, schedule)
    make_optimizer = as_make_optimizer(optimizer)
    try:  # the optimizer's own checks, on the space's extremes (traced values are not checked)
        for row in (table.min(axis=0), table.max(axis=0)):
            point = {n: float(v) for n, v in zip(names, row) if n not in WORKLOAD_HYPERPARAMETERS}
            make_optimizer(**settings(point))
    except (TypeError, ValueError) as error:
        raise StudyError(f"space: {error}") from None

    program = _study_program(make_optimizer, settings, workload, names, plan)
    devices = list(jax.devices() if devices is None else devices)
    grid_map = GridMap(
        program, {"study": np.arange(studies, dtype=np.int32)}, devices=devices,
        chunk_size=studies if chunk_size is None else _positive("chunk_size", chunk_size),
        block=study_block(devices), precompile=True,
    )  # fmt: skip
    begin = time.perf_counter()
    parts = []
    arrays = (table, np.uint32(seed), *workload.train, *workload.validation)
    for first, output in grid_map.chunks(*arrays):
        parts.append(output)
        if on_chunk is not None:
            on_chunk(min(studies, first + grid_map.chunk_size), studies)
    outputs = jax.tree.map(lambda *leaves: np.concatenate(leaves), *parts)
    run_seconds = time.perf_counter() - begin - grid_map.compile_seconds
    eval_every = workload.eval_every
    lane_steps = studies * plan.lane_evaluations() * eval_every
    curves = _curves(outputs, plan, eval_every, names, table, run_seconds)
    return StudyResult(
        curves=curves, optimizer=getattr(make_optimizer, "__name__", str(optimizer)),
        workload=workload, points=points, studies=studies, steps=steps, halving=halving,
        lane_steps=lane_steps, full_lane_steps=studies * len(points) * steps,
        compile_seconds=grid_map.compile_seconds, run_seconds=run_seconds,
        device_count=grid_map.device_count,
    )  # fmt: skip


def _curves(outputs: dict, plan: RungPlan, eval_every: int, names: tuple[str, ...],
            table: np.ndarray, run_seconds: float) -> pd.DataFrame:  # fmt: skip
    """The long table of a study's outputs (rows that ran only)."""
    studies, trials, evaluations = outputs["evaluated"].shape
    study_index, trial_index, evaluation = np.nonzero(outputs["evaluated"])
    # Wall time prorated by lane-evaluations done when each evaluation completes.
    lanes_per_evaluation = np.repeat(plan.lanes, np.diff((0,) + plan.ends))
    done = np.cumsum(lanes_per_evaluation) / max(1, lanes_per_evaluation.sum())
    frame = {
        "study": study_index,
        "trial": trial_index,
        "step": (evaluation + 1) * eval_every,
        "train_loss": outputs["train_loss"][study_index, trial_index, evaluation],
        "validation_metric": outputs["validation_metric"][study_index, trial_index, evaluation],
        "seconds": run_seconds * done[evaluation],
    }
    for column, name in enumerate(names):
        frame[name] = table[trial_index, column]
    return pd.DataFrame(frame)
