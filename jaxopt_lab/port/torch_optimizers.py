"""A live ``torch.optim`` optimizer (+ scheduler, clipping, param groups) -> a recipe.

:func:`torch_recipe` reads every hyperparameter of every param group, refuses
what it cannot reproduce exactly (:class:`~jaxopt_lab.port.errors.PortError`
naming it), and returns the :class:`~jaxopt_lab.port.recipe.Recipe` of lab
optimizers and optax pieces that does what torch does, in torch's order:
``clip -> (per group: maximize -> coupled L2 weight decay -> the step)``.
Which lab/optax setting reproduces each torch step is in
:mod:`jaxopt_lab.port.torch_steps`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from jaxopt_lab.port import torch_schedules
from jaxopt_lab.port.errors import PortError
from jaxopt_lab.port.recipe import Call, Name, Recipe, call
from jaxopt_lab.port.torch_steps import NOT_PORTED, OPTIMIZERS, chained, scheduled

__all__ = ["MAX_PARAM_GROUPS", "from_torch", "schedule_groups", "scheduled", "torch_recipe"]


MAX_PARAM_GROUPS = 256
"""Param groups the port builds: 200 groups of one leaf each take about 3 s to build and
compile on one CPU core, growing as groups x leaves (optax.partition masks every leaf for
every group)."""

IGNORED = frozenset({"foreach", "fused", "capturable", "differentiable"})
"""torch options that change how the step runs, not what it computes (ignored)."""


# --------------------------------------------------------------------------- reading torch


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch")


def _read_group(name: str, index: int, group: dict, known: frozenset, defaults: dict) -> dict:
    options = {}
    for key in defaults:
        if key in IGNORED:
            continue
        if key not in known:
            raise PortError(
                f"torch.optim.{name} option {key!r} (param group {index}) is not covered by the "
                "port"
            )
        value = group[key]
        values = value if isinstance(value, tuple) else (value,)
        if any(_is_tensor(v) for v in values):
            raise PortError(
                f"torch.optim.{name} {key} given as a Tensor (param group {index}) is not "
                "covered: tensor hyperparameters change torch's arithmetic; give Python numbers"
            )
        options[key] = value
    options["complex"] = any(tensor.is_complex() for tensor in group["params"])
    options["initial_lr"] = float(group["lr"])
    return options


def _has_stepped(optimizer: Any) -> bool:
    """Whether the optimizer's state shows a step (Adagrad's holds a step of 0 from the start)."""
    for state in optimizer.state.values():
        if "step" in state:
            if float(state["step"]) > 0:
                return True
        elif state:
            return True
    return False


def _spec_call(spec: Any) -> Call:
    """The recipe call that rebuilds a scheduler spec (its non-default fields)."""
    kwargs = {}
    for field in dataclasses.fields(spec):
        value = getattr(spec, field.name)
        if field.default is not dataclasses.MISSING and value == field.default:
            continue
        if field.name == "schedulers":
            value = tuple(_spec_call(sub) for sub in value)
        kwargs[field.name] = value
    return call(f"port.torch_schedules.{type(spec).__name__}", **kwargs)


def torch_recipe(
    optimizer: Any,
    scheduler: Any = None,
    *,
    clip_grad_norm: float | None = None,
    clip_grad_value: float | None = None,
    clip_norm_type: float = 2.0,
    scheduler_every: int = 1,
    group_of: Any = None,
    steps: int | None = None,
    stepped: bool = False,
) -> Recipe:
    """The recipe of :func:`from_torch` (see there); ``Recipe.code()`` prints it.

    ``stepped=True`` reads an optimizer (and scheduler) that has already stepped,
    for :func:`~jaxopt_lab.port.state.state_from_torch`, which moves its state.
    """
    name = type(optimizer).__name__
    module = type(optimizer).__module__
    if not module.startswith("torch.optim"):
        raise TypeError(f"optimizer must be a torch.optim optimizer, got {module}.{name}")
    if name in NOT_PORTED:
        raise PortError(f"torch.optim.{name} cannot be ported exactly: {NOT_PORTED[name]}")
    if name not in OPTIMIZERS:
        raise PortError(
            f"torch.optim.{name} is not covered by the port; covered: {', '.join(OPTIMIZERS)}"
        )
    import torch

    if type(optimizer) is not getattr(torch.optim, name):
        raise PortError(f"{module}.{name} subclasses torch.optim.{name}; its step may differ")
    if not stepped and _has_stepped(optimizer):
        raise PortError(
            f"this torch.optim.{name} has already stepped: the port starts from a fresh state "
            "and would drop its moments; port the optimizer before training"
        )
    if clip_grad_norm is not None and clip_grad_value is not None:
        raise ValueError("give clip_grad_norm or clip_grad_value, not both")
    if scheduler is None and scheduler_every != 1:
        raise ValueError(f"scheduler_every={scheduler_every!r} given without a scheduler")
    if len(optimizer.param_groups) > MAX_PARAM_GROUPS:
        raise PortError(
            f"this torch.optim.{name} has {len(optimizer.param_groups)} param groups; the port "
            f"builds at most {MAX_PARAM_GROUPS} (one transformation per group under "
            "optax.partition, whose cost grows as groups x leaves): merge the groups that share "
            "their settings"
        )
    build, known = OPTIMIZERS[name]
    options = [
        _read_group(name, index, group, known, optimizer.defaults)
        for index, group in enumerate(optimizer.param_groups)
    ]
    if len(options) > 1 and group_of is None:
        raise ValueError(
            f"this torch.optim.{name} has {len(options)} param groups: give group_of (a pytree "
            "of group indices shaped like the params, or a function of a leaf's key path)"
        )

    assignments = []
    learning_rates: list[Any] = [float(group["lr"]) for group in optimizer.param_groups]
    momenta: list[Any] = [None] * len(options)
    if scheduler is not None:
        schedule_call, cycles_momentum = _schedule(
            optimizer, scheduler, scheduler_every, steps, stepped
        )
        assignments.append(("schedule", schedule_call))
        learning_rates = [Name("schedule", ("lr", index)) for index in range(len(options))]
        if cycles_momentum:
            momenta = [Name("schedule", ("momentum", index)) for index in range(len(options))]

    transforms = [
        build(group_options, learning_rates[index], momenta[index])
        for index, group_options in enumerate(options)
    ]
    given = ()
    if group_of is None:
        body = transforms[0]
    else:
        body = call("port.param_groups", transforms, Name("group_of"))
        given = (("group_of", group_of),)
    clip = None
    if clip_grad_norm is not None:
        norm_type = float(clip_norm_type)
        clip = call(
            "port.clip_grad_norm",
            float(clip_grad_norm),
            **(
                {}
                if norm_type == 2.0
                else {"norm_type": math.inf if norm_type == math.inf else norm_type}
            ),
        )
    elif clip_grad_value is not None:
        clip = call("port.clip_grad_value", float(clip_grad_value))
    return Recipe(tuple(assignments), chained(clip, body), given)


def _momentum_key(optimizer: Any) -> str | None:
    if "betas" in optimizer.defaults:
        return "betas"
    return "momentum" if "momentum" in optimizer.defaults else None


def schedule_groups(optimizer: Any) -> list[dict[str, Any]]:
    """Each param group's start, as a scheduler reads it: ``"lr"`` (its ``initial_lr``), and
    ``"betas"`` or ``"momentum"`` (what ``OneCycleLR`` cycles)."""
    key = _momentum_key(optimizer)
    groups = []
    for group in optimizer.param_groups:
        start = {"lr": float(group.get("initial_lr", group["lr"]))}
        if key is not None:
            start[key] = tuple(group[key]) if key == "betas" else group[key]
        groups.append(start)
    return groups


def _schedule(
    optimizer: Any, scheduler: Any, every: int, steps: int | None, stepped: bool = False
) -> tuple[Call, bool]:
    """The ``torch_schedule`` call for a live scheduler, checked against its live values
    (at its ``last_epoch`` when ``stepped``), and whether it cycles momentum."""
    if getattr(scheduler, "optimizer", None) is not optimizer:
        raise ValueError("the scheduler does not belong to this optimizer")
    epoch = scheduler.last_epoch if stepped else 0
    if not stepped and scheduler.last_epoch != 0:
        raise PortError(
            f"the {type(scheduler).__name__} has already stepped (last_epoch="
            f"{scheduler.last_epoch}); the port starts from epoch 0"
        )
    spec = torch_schedules.spec_from_torch(scheduler)
    key = _momentum_key(optimizer)
    groups = schedule_groups(optimizer)
    schedule = torch_schedules.torch_schedule(spec, groups, every=every, steps=steps)
    if epoch >= len(schedule.table.lr):
        raise PortError(
            f"the {type(scheduler).__name__} is at last_epoch={epoch}, past the "
            f"{len(schedule.table.lr)} scheduler steps tabulated: give steps= past it"
        )
    for index, group in enumerate(optimizer.param_groups):
        if schedule.table.lr[epoch, index] != group["lr"]:
            raise PortError(
                f"param group {index}: torch's lr is {group['lr']!r} but the "
                f"{type(scheduler).__name__}'s value at epoch {epoch} is "
                f"{schedule.table.lr[epoch, index]!r}: another scheduler or a manual change "
                "acts on it, which the port cannot see"
            )
        if schedule.momentum is not None:
            live = group["betas"][0] if key == "betas" else group["momentum"]
            if schedule.table.momentum[epoch, index] != live:
                raise PortError(
                    f"param group {index}: torch's momentum is {live!r} but the "
                    f"{type(scheduler).__name__}'s value at epoch {epoch} is "
                    f"{schedule.table.momentum[epoch, index]!r}"
                )
    kwargs = {"groups": groups}
    if every != 1:
        kwargs["every"] = every
    if steps is not None:
        kwargs["steps"] = steps
    return call("port.torch_schedule", _spec_call(spec), **kwargs), schedule.momentum is not None


def from_torch(
    optimizer: Any,
    scheduler: Any = None,
    *,
    clip_grad_norm: float | None = None,
    clip_grad_value: float | None = None,
    clip_norm_type: float = 2.0,
    scheduler_every: int = 1,
    group_of: Any = None,
    steps: int | None = None,
) -> Any:
    """A live ``torch.optim`` optimizer, as torch would run it, as one optax transformation.

    Args:
      optimizer: a fresh ``torch.optim`` optimizer (SGD, Adam, AdamW, Adagrad,
        RMSprop, Adadelta, Adamax, NAdam, RAdam, Rprop, Adafactor); every
        hyperparameter of every param group is read.
      scheduler: a fresh ``torch.optim.lr_scheduler`` object on it, or None.
      clip_grad_norm: ``torch.nn.utils.clip_grad_norm_(params, clip_grad_norm,
        clip_norm_type)`` over all params before each step (its 1e-6, its norm
        of norms, always multiplied).
      clip_grad_value: ``torch.nn.utils.clip_grad_value_(params, clip_grad_value)``.
      scheduler_every: optimizer steps per ``scheduler.step()``.
      group_of: with several param groups, a pytree of group indices shaped like
        the params, or a function of a leaf's key path returning its index.
      steps: optimizer steps to tabulate torch's own scheduler values for; past
        them (or without it) a scheduler that never settles continues with its
        closed form (:mod:`~jaxopt_lab.port.closed_forms`), never NaN.

    Raises:
      PortError: an optimizer, option, scheduler or state the port cannot
        reproduce exactly, named.
    """
    return torch_recipe(
        optimizer,
        scheduler,
        clip_grad_norm=clip_grad_norm,
        clip_grad_value=clip_grad_value,
        clip_norm_type=clip_norm_type,
        scheduler_every=scheduler_every,
        group_of=group_of,
        steps=steps,
    ).build()
