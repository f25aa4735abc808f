"""The ``torch.optim.lr_scheduler`` classes the port reproduces, as specs, and how to read one.

A spec takes torch's constructor arguments without the optimizer
(``OneCycleLR(max_lr=1e-3, total_steps=1000)``) and checks them as torch does
(or where torch would divide by zero later), raising ``ValueError`` in one
line. :func:`spec_from_torch` reads the spec of a live torch scheduler from its
attributes (``OneCycleLR``'s constructor arguments recovered exactly from the
values torch derives from them). :mod:`jaxopt_lab.port.torch_schedules` turns a
spec into optax schedules; ``port.torch_schedules.OneCycleLR`` and the others
are importable from there too.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from jaxopt_lab.port.errors import PortError
from jaxopt_lab.port.torch_arithmetic import SimulatedOptimizer, build


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
