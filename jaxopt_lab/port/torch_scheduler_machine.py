"""torch's ``LRScheduler`` state machine, re-run on Python floats without torch.

:class:`Scheduler` is ``torch.optim.lr_scheduler.LRScheduler`` (torch 2.13)
reduced to what changes the numbers: the ``_initial_step`` every scheduler
takes when it is built, ``step``, and the closed form that ``SequentialLR``
calls at a milestone. It acts on :class:`SimulatedOptimizer`, a list of
param-group dicts, exactly as torch's act on ``optimizer.param_groups``. The
schedulers' own ``get_lr`` live in :mod:`jaxopt_lab.port.torch_arithmetic`
and :mod:`jaxopt_lab.port.torch_one_cycle`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class SimulatedOptimizer:
    """What a scheduler touches of a torch optimizer: its param groups and defaults."""

    def __init__(self, groups: Sequence[Mapping[str, Any]]):
        self.param_groups = [dict(group) for group in groups]
        self.defaults = dict(self.param_groups[0]) if self.param_groups else {}


def group_values(optimizer: SimulatedOptimizer, key: str) -> list:
    """``optimizer.param_groups[i][key]`` for every group."""
    return [group[key] for group in optimizer.param_groups]


class Scheduler:
    """``torch.optim.lr_scheduler.LRScheduler``'s state machine, on Python floats."""

    has_closed_form = False

    def __init__(self, optimizer: SimulatedOptimizer):
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = group_values(optimizer, "initial_lr")
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
