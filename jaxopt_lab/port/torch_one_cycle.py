"""torch's ``OneCycleLR``, re-run on Python floats without torch.

The 1cycle policy's phases, its per-group ``max_lr`` and momenta, and its
``get_lr``, copied from ``torch.optim.lr_scheduler.OneCycleLR`` (torch 2.13) in
torch's order, so that the floats are torch's bit for bit, on the state
machine of :mod:`jaxopt_lab.port.torch_scheduler_machine`.
"""

from __future__ import annotations

import math
from typing import Any

from jaxopt_lab.port.torch_scheduler_machine import Scheduler, SimulatedOptimizer


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


class _OneCycleLR(Scheduler):
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
