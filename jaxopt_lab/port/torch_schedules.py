"""``torch.optim.lr_scheduler``, reproduced value by value, as optax schedules.

A torch scheduler changes ``param_group["lr"]`` in place, in Python floats
(float64), once per ``scheduler.step()``, and most of them recursively: the
new learning rate is the current one times a factor (``CosineAnnealingLR``'s
ratio of cosines, ``LinearLR``'s and ``PolynomialLR``'s ratios), so its values
are not those of the closed form it approximates. This module re-runs that
arithmetic, expression by expression and in the same order, on plain Python
floats, without torch, and tabulates it::

    schedule = torch_schedule(OneCycleLR(max_lr=1e-3, total_steps=1000),
                              groups=[{"lr": 3e-4, "betas": (0.9, 0.95)}])
    schedule.lr[0](count)        # torch's learning rate at optimizer step `count`
    schedule.momentum[0](count)  # and its cycled beta1

The specs (:mod:`~jaxopt_lab.port.torch_schedule_specs`, importable from here)
take torch's constructor arguments (without the optimizer).
``torch_schedule(..., every=k)`` steps the scheduler once per ``k`` optimizer
steps (a scheduler stepped per epoch of ``k`` batches). A schedule that never
settles (``StepLR``, ``ExponentialLR``, the cosines) is tabulated up to
``steps`` optimizer steps, torch's values bit for bit, and continues past them
(or, without ``steps``, from the start) with its closed form in the run's dtype
(:mod:`~jaxopt_lab.port.closed_forms`, whose distance from torch's recursion
is measured and reported by ``jaxopt-lab port``). Schedules that settle
(``LinearLR``, ``ConstantLR``, ``PolynomialLR``, ``MultiStepLR``) hold their last
value exactly, as torch does; ``OneCycleLR`` holds its final value past
``total_steps`` scheduler steps, where torch raises. No schedule is NaN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.port.torch_arithmetic import SimulatedOptimizer, build, one_cycle_total_steps
from jaxopt_lab.port.torch_schedule_specs import (
    NOT_PORTED,
    SPECS,
    ConstantLR,
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    ExponentialLR,
    LinearLR,
    MultiStepLR,
    OneCycleLR,
    PolynomialLR,
    SequentialLR,
    StepLR,
    spec_from_torch,
)

__all__ = [
    "NOT_PORTED",
    "SPECS",
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "ExponentialLR",
    "LinearLR",
    "MAX_TABLE_VALUES",
    "MultiStepLR",
    "OneCycleLR",
    "PolynomialLR",
    "ScheduleTable",
    "SequentialLR",
    "StepLR",
    "TabulatedSchedule",
    "TorchSchedule",
    "one_cycle_total_steps",
    "simulate",
    "spec_from_torch",
    "torch_schedule",
]


# --------------------------------------------------------------------------- horizons


def _horizon(spec: Any) -> tuple[str, int]:
    """``("constant", e)``: the value is fixed from scheduler step e on;
    ``("ends", e)``: torch raises past step e; ``("never", 0)``: it keeps changing."""
    if isinstance(spec, (StepLR, ExponentialLR)):
        return ("constant", 0) if spec.gamma == 1 else ("never", 0)
    if isinstance(spec, MultiStepLR):
        return ("constant", max(spec.milestones, default=0))
    if isinstance(spec, (ConstantLR, LinearLR, PolynomialLR)):
        return ("constant", max(spec.total_iters, 0))
    if isinstance(spec, (CosineAnnealingLR, CosineAnnealingWarmRestarts)):
        return ("never", 0)
    if isinstance(spec, OneCycleLR):
        return ("ends", one_cycle_total_steps(spec))
    if isinstance(spec, SequentialLR):
        kind, epoch = _horizon(spec.schedulers[-1])
        return kind, epoch + (spec.milestones[-1] if spec.milestones else 0)
    raise TypeError(f"not a torch scheduler spec: {spec!r}")


# --------------------------------------------------------------------------- tables and schedules


class ScheduleTable(NamedTuple):
    """torch's values per scheduler step (epoch): ``lr[epoch, group]``.

    ``momentum`` is the cycled momentum (SGD, RMSprop) or beta1 (Adam family)
    for ``OneCycleLR(cycle_momentum=True)``, else ``None``.
    """

    lr: np.ndarray
    momentum: np.ndarray | None


def simulate(spec: Any, groups: Sequence[Mapping[str, Any]], epochs: int) -> ScheduleTable:
    """Run torch's scheduler arithmetic for ``epochs`` scheduler steps (epoch 0 included).

    ``groups`` gives each param group's hyperparameters as the optimizer was
    built: ``"lr"``, and ``"momentum"`` or ``"betas"`` where ``OneCycleLR``
    cycles them.
    """
    if not groups:
        raise ValueError("groups must hold at least one param group")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    optimizer = SimulatedOptimizer(groups)
    scheduler = build(spec, optimizer)
    cycles = _cycles_momentum(spec)
    lrs, momenta = [], []
    for epoch in range(epochs):
        if epoch:
            scheduler.step()
        lrs.append([float(group["lr"]) for group in optimizer.param_groups])
        if cycles:
            momenta.append([_momentum_of(group) for group in optimizer.param_groups])
    return ScheduleTable(
        np.array(lrs, np.float64), np.array(momenta, np.float64) if cycles else None
    )


def _cycles_momentum(spec: Any) -> bool:
    if isinstance(spec, OneCycleLR):
        return spec.cycle_momentum
    if isinstance(spec, SequentialLR):
        return any(_cycles_momentum(sub) for sub in spec.schedulers)
    return False


def _momentum_of(group: Mapping[str, Any]) -> float:
    return float(group["betas"][0] if "betas" in group else group["momentum"])


class TabulatedSchedule:
    """An optax schedule that looks a value up in a table: ``values[count // every]``.

    Past the table it holds the last value (``after="constant"``, for a torch
    scheduler that has settled), continues with a function of the scheduler
    epoch (``after=closed_form``, torch's closed form, see
    :mod:`~jaxopt_lab.port.closed_forms`) or is NaN (``after="nan"``, kept for
    tables a caller builds by hand; the port never builds one). The table is
    kept in float64 and converted when the schedule is traced, so it is
    float64 under ``jax.enable_x64`` and float32 otherwise.
    """

    def __init__(self, values: np.ndarray, *, every: int = 1, after: Any = "nan"):
        values = np.asarray(values, np.float64)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"values must be a non-empty 1-D table, got shape {values.shape}")
        if not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"every must be a positive int, got {every!r}")
        if not callable(after) and after not in ("constant", "nan"):
            raise ValueError(f"after must be 'constant', 'nan' or a function, got {after!r}")
        self.values, self.every, self.after = values, int(every), after

    def __call__(self, count: jax.Array) -> jax.Array:
        table = jnp.asarray(self.values)
        index = jnp.asarray(count) // self.every
        value = table[jnp.clip(index, 0, len(self.values) - 1)]
        if callable(self.after):
            past = jnp.asarray(self.after(index)).astype(value.dtype)
            value = jnp.where(index < len(self.values), value, past)
        elif self.after == "nan":
            value = jnp.where(index < len(self.values), value, jnp.nan)
        return value

    def __repr__(self) -> str:
        after = "closed form" if callable(self.after) else repr(self.after)
        return f"TabulatedSchedule({len(self.values)} values, every={self.every}, after={after})"


MAX_TABLE_VALUES = 2_000_000
"""Values the port tabulates at most (scheduler steps times param groups): 16 MB of
float64 and a few seconds of torch's arithmetic. Past it the closed form is used where
the run's length was not stated; a stated ``steps`` beyond it is refused."""


class TorchSchedule(NamedTuple):
    """Per param group, torch's learning rate (and cycled momentum/beta1) as optax schedules.

    ``exact_until``: the optimizer step up to which the values are torch's own
    (tabulated), past which the closed form runs; None where they are torch's
    at every step (a scheduler that settles within the table).
    """

    lr: tuple[TabulatedSchedule, ...]
    momentum: tuple[TabulatedSchedule, ...] | None
    table: ScheduleTable
    exact_until: int | None = None


def torch_schedule(
    scheduler: Any,
    groups: Sequence[Mapping[str, Any]],
    *,
    every: int = 1,
    steps: int | None = None,
) -> TorchSchedule:
    """torch's scheduler as one optax schedule per param group, value for value.

    Args:
      scheduler: a spec of this module (``OneCycleLR(max_lr=1e-3, total_steps=1000)``).
      groups: each param group's ``"lr"`` as the optimizer was built (and
        ``"momentum"`` or ``"betas"`` for ``OneCycleLR``'s momentum cycling).
      every: optimizer steps per ``scheduler.step()``.
      steps: optimizer steps to tabulate torch's own values for. Past them (and
        without ``steps``, past the first value) a scheduler that has not
        settled continues with its closed form in the run's dtype
        (:mod:`~jaxopt_lab.port.closed_forms`, measured by
        :func:`~jaxopt_lab.port.closed_forms.closed_form_distance`); one that
        settles is tabulated to where it settles and holds that value; past
        ``OneCycleLR``'s end, where torch raises, it holds the final value.
        Never NaN.
    """
    from jaxopt_lab.port.closed_forms import closed_form

    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        raise ValueError(f"every (scheduler_every) must be a positive int, got {every!r}")
    if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool) or steps < 1):
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if not groups:
        raise ValueError("groups must hold at least one param group")
    kind, horizon = _horizon(scheduler)
    needed = None if steps is None else -(-steps // every)  # scheduler steps used by the run
    if kind == "ends" and needed is not None and needed > horizon + 1:
        raise ValueError(
            f"{type(scheduler).__name__} ends after {horizon} scheduler steps (torch raises "
            f"past it), but steps={steps} with every={every} needs {needed}"
        )
    cap = MAX_TABLE_VALUES // len(groups)
    if needed is not None and needed > cap:
        raise ValueError(
            f"steps={steps} would tabulate {needed} scheduler steps for {len(groups)} param "
            f"group(s), more than the {MAX_TABLE_VALUES:,} values the port tabulates; leave "
            "steps= out to use the closed form"
        )
    settles = kind in ("constant", "ends")
    if needed is not None:  # only what the run asks for (no more than where it settles)
        epochs = min(needed, horizon + 1) if settles else needed
    elif settles and horizon + 1 <= cap:  # torch's values to where it settles: exact forever
        epochs = horizon + 1
    else:
        epochs = 1
    form = closed_form(scheduler, groups)
    # Settled within the table (or at OneCycleLR's end, where torch raises): hold its last value.
    exact_forever = kind in ("constant", "ends") and epochs > horizon
    table = simulate(scheduler, groups, epochs)
    columns = range(table.lr.shape[1])

    def after(functions, column):
        return "constant" if exact_forever else functions[column]

    lr = tuple(
        TabulatedSchedule(table.lr[:, g], every=every, after=after(form.lr, g)) for g in columns
    )
    momentum = None
    if table.momentum is not None:
        momentum = tuple(
            TabulatedSchedule(table.momentum[:, g], every=every, after=after(form.momentum, g))
            for g in columns
        )
    exact_until = None if exact_forever else epochs * every
    return TorchSchedule(lr, momentum, table, exact_until)
