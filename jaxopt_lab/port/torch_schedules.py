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

The specs below take torch's constructor arguments (without the optimizer).
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

The specs check their arguments as torch does (or where torch would divide by
zero later), and raise ``ValueError`` in one line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.port.errors import PortError
from jaxopt_lab.port.torch_arithmetic import SimulatedOptimizer, build, one_cycle_total_steps

# --------------------------------------------------------------------------- specs


def _shown(value: Any) -> str:
    """``repr(value)``, cut to about 200 characters for an error line."""
    shown = repr(value)
    return shown if len(shown) <= 200 else shown[:160] + f"... ({len(shown)} characters)"


def _check_int(spec: Any, name: str, low: int) -> None:
    value = getattr(spec, name)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(
            f"{type(spec).__name__} {name} must be an int >= {low}, got {_shown(value)}"
        )


def _check_real(
    spec: Any,
    name: str,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
) -> None:
    value = getattr(spec, name)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not np.isfinite(value):
        raise ValueError(
            f"{type(spec).__name__} {name} must be a finite number, got {_shown(value)}"
        )
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(
            f"{type(spec).__name__} {name} must be {'>' if low_open else '>='} {low}, got {value!r}"
        )
    if high is not None and value > high:
        raise ValueError(f"{type(spec).__name__} {name} must be <= {high}, got {value!r}")


@dataclasses.dataclass(frozen=True)
class StepLR:
    """``lr *= gamma`` every ``step_size`` scheduler steps."""

    step_size: int
    gamma: float = 0.1

    def __post_init__(self):
        _check_int(self, "step_size", 1)
        _check_real(self, "gamma")


@dataclasses.dataclass(frozen=True)
class MultiStepLR:
    """``lr *= gamma ** (times the epoch appears in milestones)`` at each milestone."""

    milestones: tuple[int, ...]
    gamma: float = 0.1

    def __post_init__(self):
        milestones = self.milestones
        if not isinstance(milestones, (list, tuple)) or not all(
            isinstance(m, int) and not isinstance(m, bool) and 0 <= m <= 2**62 for m in milestones
        ):
            raise ValueError(f"MultiStepLR milestones must be ints >= 0, got {_shown(milestones)}")
        _check_real(self, "gamma")


@dataclasses.dataclass(frozen=True)
class ConstantLR:
    """``lr * factor`` until ``total_iters``, then ``lr`` (divided back by ``factor``)."""

    factor: float = 1.0 / 3
    total_iters: int = 5

    def __post_init__(self):
        _check_real(self, "factor", 0.0, 1.0, low_open=True)  # torch: 0 < factor <= 1
        _check_int(self, "total_iters", 0)


@dataclasses.dataclass(frozen=True)
class LinearLR:
    """From ``lr * start_factor`` to ``lr * end_factor`` over ``total_iters``, recursively."""

    start_factor: float = 1.0 / 3
    end_factor: float = 1.0
    total_iters: int = 5

    def __post_init__(self):
        _check_real(self, "start_factor", 0.0, 1.0, low_open=True)  # as torch checks them
        _check_real(self, "end_factor", 0.0, 1.0)
        _check_int(self, "total_iters", 1)  # torch's closed form divides by it


@dataclasses.dataclass(frozen=True)
class ExponentialLR:
    """``lr *= gamma`` every scheduler step."""

    gamma: float

    def __post_init__(self):
        _check_real(self, "gamma")


@dataclasses.dataclass(frozen=True)
class PolynomialLR:
    """``lr *= ((1 - t/T) / (1 - (t-1)/T)) ** power`` until ``total_iters``."""

    total_iters: int = 5
    power: float = 1.0

    def __post_init__(self):
        _check_int(self, "total_iters", 1)  # torch's closed form divides by it
        _check_real(self, "power")


@dataclasses.dataclass(frozen=True)
class CosineAnnealingLR:
    """The recursive cosine (it keeps cycling past ``T_max``)."""

    T_max: int  # noqa: N815 (torch's name)
    eta_min: float = 0.0

    def __post_init__(self):
        _check_int(self, "T_max", 1)  # torch divides by it
        _check_real(self, "eta_min")


@dataclasses.dataclass(frozen=True)
class CosineAnnealingWarmRestarts:
    """SGDR: the closed-form cosine over periods ``T_0, T_0 * T_mult, ...``."""

    T_0: int  # noqa: N815
    T_mult: int = 1  # noqa: N815
    eta_min: float = 0.0

    def __post_init__(self):
        _check_int(self, "T_0", 1)  # as torch checks them
        _check_int(self, "T_mult", 1)
        _check_real(self, "eta_min")


@dataclasses.dataclass(frozen=True)
class OneCycleLR:
    """The 1cycle policy; with ``cycle_momentum``, momentum or beta1 cycles inversely."""

    max_lr: float | tuple[float, ...]
    total_steps: int | None = None
    epochs: int | None = None
    steps_per_epoch: int | None = None
    pct_start: float = 0.3
    anneal_strategy: str = "cos"
    cycle_momentum: bool = True
    base_momentum: float | tuple[float, ...] = 0.85
    max_momentum: float | tuple[float, ...] = 0.95
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    three_phase: bool = False

    def __post_init__(self):
        for name in ("div_factor", "final_div_factor"):
            _check_real(self, name, 0.0, low_open=True)
        for name in ("max_lr", "base_momentum", "max_momentum"):
            values = getattr(self, name)
            values = values if isinstance(values, (list, tuple)) else (values,)
            if not values or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
                for v in values
            ):
                raise ValueError(
                    f"OneCycleLR {name} must be a finite number or one per group, got "
                    f"{_shown(getattr(self, name))}"
                )


@dataclasses.dataclass(frozen=True)
class SequentialLR:
    """``schedulers[i]`` from ``milestones[i - 1]`` on, each restarted at its milestone."""

    schedulers: tuple[Any, ...]
    milestones: tuple[int, ...]


SPECS = (
    StepLR,
    MultiStepLR,
    ConstantLR,
    LinearLR,
    ExponentialLR,
    PolynomialLR,
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    OneCycleLR,
    SequentialLR,
)
"""Every torch scheduler the port reproduces."""

NOT_PORTED = {
    "LambdaLR": "it calls an arbitrary Python function of the epoch, which the port cannot "
    "read; write that function as an optax schedule of the step count instead",
    "MultiplicativeLR": "it calls an arbitrary Python function of the epoch, which the port "
    "cannot read; write it as an optax schedule of the step count instead",
    "ReduceLROnPlateau": "it steps on a validation metric that an optax schedule of the step "
    "count cannot see",
    "ChainedScheduler": "chained schedulers are not covered; use SequentialLR or one scheduler",
    "CyclicLR": "CyclicLR is not covered yet",
}
"""torch schedulers the port refuses, and why."""


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


# --------------------------------------------------------------------------- from a live scheduler


def spec_from_torch(scheduler: Any) -> Any:
    """The spec of a live ``torch.optim.lr_scheduler`` object (read from its attributes).

    Raises ``PortError`` naming a scheduler the port does not cover.
    """
    name = type(scheduler).__name__
    if name in NOT_PORTED:
        raise PortError(f"torch.optim.lr_scheduler.{name} cannot be ported: {NOT_PORTED[name]}")
    if not type(scheduler).__module__.startswith("torch.optim"):
        raise PortError(
            f"{type(scheduler).__module__}.{name} is not a torch.optim.lr_scheduler class the "
            "port covers (a subclass may change the arithmetic)"
        )
    if name == "StepLR":
        return StepLR(scheduler.step_size, scheduler.gamma)
    if name == "MultiStepLR":
        return MultiStepLR(tuple(sorted(scheduler.milestones.elements())), scheduler.gamma)
    if name == "ConstantLR":
        return ConstantLR(scheduler.factor, scheduler.total_iters)
    if name == "LinearLR":
        return LinearLR(scheduler.start_factor, scheduler.end_factor, scheduler.total_iters)
    if name == "ExponentialLR":
        return ExponentialLR(scheduler.gamma)
    if name == "PolynomialLR":
        return PolynomialLR(scheduler.total_iters, scheduler.power)
    if name == "CosineAnnealingLR":
        return CosineAnnealingLR(scheduler.T_max, scheduler.eta_min)
    if name == "CosineAnnealingWarmRestarts":
        return CosineAnnealingWarmRestarts(scheduler.T_0, scheduler.T_mult, scheduler.eta_min)
    if name == "OneCycleLR":
        return _one_cycle_from_torch(scheduler)
    if name == "SequentialLR":
        return SequentialLR(
            tuple(spec_from_torch(sub) for sub in scheduler._schedulers),
            tuple(scheduler._milestones),
        )
    raise PortError(f"torch.optim.lr_scheduler.{name} is not covered by the port")


def _recover(value: float, rebuild, target) -> float:
    """The float ``x`` near ``value`` for which ``rebuild(x) == target``, exactly."""
    candidate = value
    for _ in range(8):
        if rebuild(candidate) == target:
            return candidate
        candidate = float(np.nextafter(candidate, np.inf))
    candidate = value
    for _ in range(8):
        candidate = float(np.nextafter(candidate, -np.inf))
        if rebuild(candidate) == target:
            return candidate
    raise PortError("could not recover OneCycleLR's constructor arguments exactly")


def _one_cycle_from_torch(scheduler: Any) -> OneCycleLR:
    """torch keeps OneCycleLR's derived values, not its arguments: recover them exactly."""
    groups = scheduler.optimizer.param_groups
    total = scheduler.total_steps
    phases = scheduler._schedule_phases
    end = phases[0]["end_step"]
    pct_start = _recover((end + 1) / total, lambda p: float(p * total) - 1, end)
    max_lrs = tuple(group["max_lr"] for group in groups)
    div_factor = _recover(
        max_lrs[0] / groups[0]["initial_lr"], lambda d: max_lrs[0] / d, groups[0]["initial_lr"]
    )
    final_div_factor = _recover(
        groups[0]["initial_lr"] / groups[0]["min_lr"],
        lambda d: groups[0]["initial_lr"] / d,
        groups[0]["min_lr"],
    )
    momentum = {}
    if scheduler.cycle_momentum:
        momentum = {
            "base_momentum": _collapse(tuple(group["base_momentum"] for group in groups)),
            "max_momentum": _collapse(tuple(group["max_momentum"] for group in groups)),
        }
    spec = OneCycleLR(
        max_lr=_collapse(max_lrs),
        total_steps=total,
        pct_start=pct_start,
        anneal_strategy=scheduler._anneal_func_type,
        cycle_momentum=scheduler.cycle_momentum,
        div_factor=div_factor,
        final_div_factor=final_div_factor,
        three_phase=len(phases) == 3,
        **momentum,
    )
    # The recovered arguments must rebuild torch's derived values exactly.
    rebuilt = SimulatedOptimizer([{"lr": g["lr"], "betas": (0.9, 0.999)} for g in groups])
    simulation = build(dataclasses.replace(spec, cycle_momentum=False), rebuilt)
    for key in ("initial_lr", "max_lr", "min_lr"):
        if [g[key] for g in rebuilt.param_groups] != [g[key] for g in groups]:
            raise PortError(f"could not recover OneCycleLR's {key} exactly")
    if [p["end_step"] for p in simulation._schedule_phases] != [p["end_step"] for p in phases]:
        raise PortError("could not recover OneCycleLR's phases exactly")
    return spec


def _collapse(values: tuple) -> Any:
    return values[0] if len(set(values)) == 1 else values
