"""torch's scheduler arithmetic, re-run on Python floats without torch.

Each class here is the ``torch.optim.lr_scheduler`` class of the same name
(torch 2.13), reduced to what changes the numbers: ``get_lr`` and the
closed form that ``SequentialLR`` calls at a milestone, on the state machine
of :mod:`jaxopt_lab.port.torch_scheduler_machine` (``OneCycleLR`` is in
:mod:`jaxopt_lab.port.torch_one_cycle`). Expressions are
copied in torch's order, so that the floats are torch's, bit for bit
(``tests/port/test_port_schedules.py`` checks every one against the live torch).
:func:`build` makes one from a spec of :mod:`jaxopt_lab.port.torch_schedules`.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from typing import Any

from jaxopt_lab.port.torch_one_cycle import _OneCycleLR, one_cycle_total_steps
from jaxopt_lab.port.torch_scheduler_machine import Scheduler, SimulatedOptimizer, group_values

__all__ = ["SimulatedOptimizer", "build", "one_cycle_total_steps"]


class _StepLR(Scheduler):
    has_closed_form = True

    def __init__(self, optimizer, spec: Any):
        self.step_size, self.gamma = spec.step_size, spec.gamma
        super().__init__(optimizer)

    def get_lr(self):
        if (self.last_epoch == 0) or (self.last_epoch % self.step_size != 0):
            return group_values(self.optimizer, "lr")
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def closed_form_lr(self):
        return [
            base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs
        ]


class _MultiStepLR(Scheduler):
    has_closed_form = True

    def __init__(self, optimizer, spec: Any):
        self.milestones, self.gamma = Counter(spec.milestones), spec.gamma
        super().__init__(optimizer)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return group_values(self.optimizer, "lr")
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


class _ConstantLR(Scheduler):
    has_closed_form = True

    def __init__(self, optimizer, spec: Any):
        self.factor, self.total_iters = spec.factor, spec.total_iters
        super().__init__(optimizer)

    def get_lr(self):
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in self.optimizer.param_groups]
        if self.last_epoch != self.total_iters:
            return group_values(self.optimizer, "lr")
        return [group["lr"] * (1.0 / self.factor) for group in self.optimizer.param_groups]

    def closed_form_lr(self):
        return [
            base_lr * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
            for base_lr in self.base_lrs
        ]


class _LinearLR(Scheduler):
    has_closed_form = True

    def __init__(self, optimizer, spec: Any):
        self.start_factor, self.end_factor = spec.start_factor, spec.end_factor
        self.total_iters = spec.total_iters
        super().__init__(optimizer)

    def get_lr(self):
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in self.optimizer.param_groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return group_values(self.optimizer, "lr")
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


class _ExponentialLR(Scheduler):
    has_closed_form = True

    def __init__(self, optimizer, spec: Any):
        self.gamma = spec.gamma
        super().__init__(optimizer)

    def get_lr(self):
        if self._is_initial:
            return group_values(self.optimizer, "lr")
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def closed_form_lr(self):
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class _PolynomialLR(Scheduler):
    has_closed_form = True

    def __init__(self, optimizer, spec: Any):
        self.total_iters, self.power = spec.total_iters, spec.power
        super().__init__(optimizer)

    def get_lr(self):
        if self._is_initial or self.last_epoch > self.total_iters:
            return group_values(self.optimizer, "lr")
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


class _CosineAnnealingLR(Scheduler):
    has_closed_form = True

    def __init__(self, optimizer, spec: Any):
        self.T_max, self.eta_min = spec.T_max, spec.eta_min
        super().__init__(optimizer)

    def get_lr(self):
        if self._is_initial:
            return group_values(self.optimizer, "lr")
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


class _CosineAnnealingWarmRestarts(Scheduler):
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


class _SequentialLR(Scheduler):
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


def build(spec: Any, optimizer: SimulatedOptimizer) -> Scheduler:
    """The simulation of ``spec`` (a :mod:`~jaxopt_lab.port.torch_schedules` spec) on
    ``optimizer``, built as torch builds it (with its initial step)."""
    try:
        simulation = _SIMULATIONS[type(spec).__name__]
    except KeyError:
        raise TypeError(
            f"not a torch scheduler spec: {spec!r}; expected one of {', '.join(_SIMULATIONS)}"
        ) from None
    return simulation(optimizer, spec)
