"""torch's scheduler arithmetic, re-run on Python floats without torch.

Each class here is the ``torch.optim.lr_scheduler`` class of the same name
(torch 2.13), reduced to what changes the numbers: ``get_lr``, ``step``, the
closed form that ``SequentialLR`` calls at a milestone, and the
``_initial_step`` every scheduler takes when it is built. Expressions are
copied in torch's order, so that the floats are torch's, bit for bit
(``tests/port/test_port_schedules.py`` checks every one against the live torch).
They act on :class:`SimulatedOptimizer`, a list of param-group dicts, exactly as torch's
act on ``optimizer.param_groups``. The specs they are built from live in
:mod:`jaxopt_lab.port.torch_schedules`.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any


class SimulatedOptimizer:
    """What a scheduler touches of a torch optimizer: its param groups and defaults."""

    def __init__(self, groups: Sequence[Mapping[str, Any]]):
        self.param_groups = [dict(group) for group in groups]
        self.defaults = dict(self.param_groups[0]) if self.param_groups else {}


def _values(optimizer: SimulatedOptimizer, key: str) -> list:
    return [group[key] for group in optimizer.param_groups]


class _Scheduler:
    """``torch.optim.lr_scheduler.LRScheduler``'s state machine, on Python floats."""

    has_closed_form = False

    def __init__(self, optimizer: SimulatedOptimizer):
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = _values(optimizer, "initial_lr")
        self.last_epoch = -1
        self._is_initial = False
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def step(self) -> None:
        self._step_count += 1
        self._update_lr(None)

    def _update_lr(self, epoch: int | None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            values = self.closed_form_lr() if self.has_closed_form else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr

    def get_lr(self) -> list[float]:
        raise NotImplementedError

    def closed_form_lr(self) -> list[float]:
        raise NotImplementedError


class _StepLR(_Scheduler):
    has_closed_form = True

    def __init__(self, optimizer, spec: Any):
        self.step_size, self.gamma = spec.step_size, spec.gamma
        super().__init__(optimizer)

    def get_lr(self):
        if (self.last_epoch == 0) or (self.last_epoch % self.step_size != 0):
            return _values(self.optimizer, "lr")
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def closed_form_lr(self):
        return [
            base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs
        ]


class _MultiStepLR(_Scheduler):
    has_closed_form = True

    def __init__(self, optimizer, spec: Any):
        self.milestones, self.gamma = Counter(spec.milestones), spec.gamma
        super().__init__(optimizer)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return _values(self.optimizer, "lr")
        return [
            group["lr"] * self.gamma ** self.milestones[self.last_epoch]
            for group in self.optimizer.param_groups
        ]

    def closed_form_lr(self):
        milestones = sorted(self.milestones.elements())
        return [
            base_lr * self.gamma ** bisect_right(milestones, self.last_epoch)
            for base_lr in self.base_lrs
        ]


class _ConstantLR(_Scheduler):
    has_closed_form = True

    def __init__(self, optimizer, spec: Any):
        self.factor, self.total_iters = spec.factor, spec.total_iters
        super().__init__(optimizer)

    def get_lr(self):
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in self.optimizer.param_groups]
        if self.last_epoch != self.total_iters:
            return _values(self.optimizer, "lr")
        return [group["lr"] * (1.0 / self.factor) for group in self.optimizer.param_groups]

    def closed_form_lr(self):
        return [
            base_lr * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
            for base_lr in self.base_lrs
        ]


class _LinearLR(_Scheduler):
    has_closed_form = True

    def __init__(self, optimizer, spec: Any):
        self.start_factor, self.end_factor = spec.start_factor, spec.end_factor
        self.total_iters = spec.total_iters
        super().__init__(optimizer)

    def get_lr(self):
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in self.optimizer.param_groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return _values(self.optimizer, "lr")
        return [
            group["lr"]
            * (
                1.0
                + (self.end_factor - self.start_factor)
                / (
                    self.total_iters * self.start_factor
                    + (self.last_epoch - 1) * (self.end_factor - self.start_factor)
                )
            )
            for group in self.optimizer.param_groups
        ]

    def closed_form_lr(self):
        return [
            base_lr
            * (
                self.start_factor
                + (self.end_factor - self.start_factor)
                * min(self.total_iters, self.last_epoch)
                / self.total_iters
            )
            for base_lr in self.base_lrs
        ]


class _ExponentialLR(_Scheduler):
    has_closed_form = True

    def __init__(self, optimizer, spec: Any):
        self.gamma = spec.gamma
        super().__init__(optimizer)

    def get_lr(self):
        if self._is_initial:
            return _values(self.optimizer, "lr")
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def closed_form_lr(self):
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class _PolynomialLR(_Scheduler):
    has_closed_form = True

    def __init__(self, optimizer, spec: Any):
        self.total_iters, self.power = spec.total_iters, spec.power
        super().__init__(optimizer)

    def get_lr(self):
        if self._is_initial or self.last_epoch > self.total_iters:
            return _values(self.optimizer, "lr")
        decay_factor = (
            (1.0 - self.last_epoch / self.total_iters)
            / (1.0 - (self.last_epoch - 1) / self.total_iters)
        ) ** self.power
        return [group["lr"] * decay_factor for group in self.optimizer.param_groups]

    def closed_form_lr(self):
        return [
            (
                base_lr
                * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
            )
            for base_lr in self.base_lrs
        ]


class _CosineAnnealingLR(_Scheduler):
    has_closed_form = True

    def __init__(self, optimizer, spec: Any):
        self.T_max, self.eta_min = spec.T_max, spec.eta_min
        super().__init__(optimizer)

    def get_lr(self):
        if self._is_initial:
            return _values(self.optimizer, "lr")
        elif self._step_count == 1 and self.last_epoch > 0:
            return [
                self.eta_min
                + (base_lr - self.eta_min)
                * (1 + math.cos((self.last_epoch) * math.pi / self.T_max))
                / 2
                for base_lr in self.base_lrs
            ]
        elif (self.last_epoch - 1 - self.T_max) % (2 * self.T_max) == 0:
            return [
                group["lr"] + (base_lr - self.eta_min) * (1 - math.cos(math.pi / self.T_max)) / 2
                for base_lr, group in zip(self.base_lrs, self.optimizer.param_groups, strict=True)
            ]
        return [
            (1 + math.cos(math.pi * self.last_epoch / self.T_max))
            / (1 + math.cos(math.pi * (self.last_epoch - 1) / self.T_max))
            * (group["lr"] - self.eta_min)
            + self.eta_min
            for group in self.optimizer.param_groups
        ]

    def closed_form_lr(self):
        return [
            self.eta_min
            + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
            for base_lr in self.base_lrs
        ]


class _CosineAnnealingWarmRestarts(_Scheduler):
    def __init__(self, optimizer, spec: Any):
        self.T_0 = self.T_i = spec.T_0
        self.T_mult, self.eta_min = spec.T_mult, spec.eta_min
        self.T_cur = -1
        super().__init__(optimizer)

    def get_lr(self):
        return [
            self.eta_min
            + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
            for base_lr in self.base_lrs
        ]

    def step(self) -> None:
        # torch's step(epoch=None) path; the deprecated explicit epoch is not reproduced.
        if self.last_epoch < 0:
            epoch = 0
            self.T_i = self.T_0
            self.T_cur = epoch
        else:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr


def _per_group(name: str, optimizer: SimulatedOptimizer, value: Any) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(
                f"{name} must have the same length as the param groups: {name} has "
                f"{len(value)} values, there are {len(optimizer.param_groups)} groups"
            )
        return list(value)
    return [value] * len(optimizer.param_groups)


def one_cycle_total_steps(spec: Any) -> int:
    """``total_steps``, or ``epochs * steps_per_epoch``, checked as torch checks them."""
    if spec.total_steps is not None:
        if not isinstance(spec.total_steps, int) or spec.total_steps <= 0:
            raise ValueError(
                f"OneCycleLR total_steps must be a positive int, got {spec.total_steps!r}"
            )
        return spec.total_steps
    if spec.epochs is not None and spec.steps_per_epoch is not None:
        if not isinstance(spec.epochs, int) or spec.epochs <= 0:
            raise ValueError(f"OneCycleLR epochs must be a positive int, got {spec.epochs!r}")
        if not isinstance(spec.steps_per_epoch, int) or spec.steps_per_epoch <= 0:
            raise ValueError(
                f"OneCycleLR steps_per_epoch must be a positive int, got {spec.steps_per_epoch!r}"
            )
        return spec.epochs * spec.steps_per_epoch
    raise ValueError("OneCycleLR needs total_steps, or epochs and steps_per_epoch")


def _one_cycle_phases(spec: Any, total_steps: int) -> list[dict]:
    if spec.three_phase:
        return [
            {
                "end_step": float(spec.pct_start * total_steps) - 1,
                "start_lr": "initial_lr",
                "end_lr": "max_lr",
                "start_momentum": "max_momentum",
                "end_momentum": "base_momentum",
            },
            {
                "end_step": float(2 * spec.pct_start * total_steps) - 2,
                "start_lr": "max_lr",
                "end_lr": "initial_lr",
                "start_momentum": "base_momentum",
                "end_momentum": "max_momentum",
            },
            {
                "end_step": total_steps - 1,
                "start_lr": "initial_lr",
                "end_lr": "min_lr",
                "start_momentum": "max_momentum",
                "end_momentum": "max_momentum",
            },
        ]
    return [
        {
            "end_step": float(spec.pct_start * total_steps) - 1,
            "start_lr": "initial_lr",
            "end_lr": "max_lr",
            "start_momentum": "max_momentum",
            "end_momentum": "base_momentum",
        },
        {
            "end_step": total_steps - 1,
            "start_lr": "max_lr",
            "end_lr": "min_lr",
            "start_momentum": "base_momentum",
            "end_momentum": "max_momentum",
        },
    ]


class _OneCycleLR(_Scheduler):
    def __init__(self, optimizer, spec: Any):
        self.optimizer = optimizer
        self.total_steps = one_cycle_total_steps(spec)
        self._schedule_phases = _one_cycle_phases(spec, self.total_steps)
        if not isinstance(spec.pct_start, float) or not 0 <= spec.pct_start <= 1:
            raise ValueError(
                f"OneCycleLR pct_start must be a float in [0, 1], got {spec.pct_start!r}"
            )
        if spec.anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                "OneCycleLR anneal_strategy must be 'cos' or 'linear', got "
                f"{spec.anneal_strategy!r}"
            )
        self.anneal_strategy = spec.anneal_strategy
        max_lrs = _per_group("max_lr", optimizer, spec.max_lr)
        for index, group in enumerate(optimizer.param_groups):
            group["initial_lr"] = max_lrs[index] / spec.div_factor
            group["max_lr"] = max_lrs[index]
            group["min_lr"] = group["initial_lr"] / spec.final_div_factor
        self.cycle_momentum = spec.cycle_momentum
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(
                    "OneCycleLR(cycle_momentum=True) needs an optimizer with momentum or betas"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            max_momentums = _per_group("max_momentum", optimizer, spec.max_momentum)
            base_momentums = _per_group("base_momentum", optimizer, spec.base_momentum)
            for max_momentum, base_momentum, group in zip(
                max_momentums, base_momentums, optimizer.param_groups, strict=True
            ):
                if self.use_beta1:
                    group["betas"] = (max_momentum, *group["betas"][1:])
                else:
                    group["momentum"] = max_momentum
                group["max_momentum"] = max_momentum
                group["base_momentum"] = base_momentum
        super().__init__(optimizer)

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            cos_out = math.cos(math.pi * pct) + 1
            return end + (start - end) / 2.0 * cos_out
        return (end - start) * pct + start

    def get_lr(self):
        lrs = []
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(
                f"OneCycleLR stepped {step_num} times; its total_steps is {self.total_steps}"
            )
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for index, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step_num <= end_step or index == len(self._schedule_phases) - 1:
                    pct = (step_num - start_step) / (end_step - start_step)
                    computed_lr = self._anneal(
                        group[phase["start_lr"]], group[phase["end_lr"]], pct
                    )
                    if self.cycle_momentum:
                        computed_momentum = self._anneal(
                            group[phase["start_momentum"]], group[phase["end_momentum"]], pct
                        )
                    break
                start_step = phase["end_step"]
            lrs.append(computed_lr)
            if self.cycle_momentum:
                if self.use_beta1:
                    group["betas"] = (computed_momentum, *group["betas"][1:])
                else:
                    group["momentum"] = computed_momentum
        return lrs


class _SequentialLR(_Scheduler):
    def __init__(self, optimizer, spec: Any):
        if len(spec.schedulers) < 1:
            raise ValueError("SequentialLR needs at least one scheduler")
        if len(spec.milestones) != len(spec.schedulers) - 1:
            raise ValueError(
                f"SequentialLR needs one milestone fewer than schedulers, got "
                f"{len(spec.milestones)} milestones for {len(spec.schedulers)} schedulers"
            )
        # torch builds the schedulers first, each with its own initial step.
        self._schedulers = [build(sub, optimizer) for sub in spec.schedulers]
        self._milestones = list(spec.milestones)
        self.last_epoch = 0
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._undo(self)
        index = bisect_right(self._milestones, 0)
        self._schedulers[index]._initial_step()

    def _undo(self, scheduler) -> None:
        if hasattr(scheduler, "_schedulers"):
            for sub in scheduler._schedulers:
                self._undo(sub)
        else:
            scheduler.last_epoch -= 1

    def step(self) -> None:
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()


_SIMULATIONS = {
    "StepLR": _StepLR,
    "MultiStepLR": _MultiStepLR,
    "ConstantLR": _ConstantLR,
    "LinearLR": _LinearLR,
    "ExponentialLR": _ExponentialLR,
    "PolynomialLR": _PolynomialLR,
    "CosineAnnealingLR": _CosineAnnealingLR,
    "CosineAnnealingWarmRestarts": _CosineAnnealingWarmRestarts,
    "OneCycleLR": _OneCycleLR,
    "SequentialLR": _SequentialLR,
}


def build(spec: Any, optimizer: SimulatedOptimizer) -> _Scheduler:
    """The simulation of ``spec`` (a :mod:`~jaxopt_lab.port.torch_schedules` spec) on
    ``optimizer``, built as torch builds it (with its initial step)."""
    try:
        simulation = _SIMULATIONS[type(spec).__name__]
    except KeyError:
        raise TypeError(
            f"not a torch scheduler spec: {spec!r}; expected one of {', '.join(_SIMULATIONS)}"
        ) from None
    return simulation(optimizer, spec)
