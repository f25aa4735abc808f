"""The library side of a port, from call texts: the live torch or Keras objects, and their recipe.

:func:`prepare` parses the texts with :mod:`ast`
(:mod:`~jaxopt_lab.port.call_text`, never evaluated), refuses in one line what
torch would index or compare without checking and what the port does not
cover, builds the live optimizer (and scheduler) on a 16x8 weight and a 16
bias per param group, and reads its :class:`~jaxopt_lab.port.recipe.Recipe`.
:mod:`jaxopt_lab.port.command` runs both sides and compares them.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from typing import Any

import jax
import numpy as np

from jaxopt_lab import crosscheck
from jaxopt_lab.port.call_text import (
    CallText,
    TorchOptimizerText,
    echo,
    keras_text,
    library_of,
    parse_call,
    refuse_unresolved,
    torch_optimizer_text,
    torch_scheduler_text,
    unparse,
)
from jaxopt_lab.port.recipe import Recipe

MAX_GROUPS = 64
"""Param groups the text port builds (each a 16x8 weight and a 16 bias, and its own
transformation compiled into the step): time and memory grow linearly up to it."""

_PAIRS = ("betas", "etas", "step_sizes")
"""torch arguments that are pairs of numbers (torch indexes them without checking)."""


def _group_params(count: int, seed: int) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    rng = np.random.default_rng(seed)
    if count == 1:
        return {"w": rng.standard_normal((16, 8)), "b": rng.standard_normal(16)}, {"w": 0, "b": 0}
    params, group_of = {}, {}
    for index in range(count):
        params[f"w{index}"] = rng.standard_normal((16, 8))
        params[f"b{index}"] = rng.standard_normal(16)
        group_of[f"w{index}"] = group_of[f"b{index}"] = index
    return params, group_of


def _has_call(value: Any) -> bool:
    if isinstance(value, CallText):
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_call(item) for item in value)
    if isinstance(value, dict):
        return any(_has_call(item) for item in value.values())
    return False


def _check_torch_arguments(optimizer: TorchOptimizerText) -> None:
    """What torch indexes or compares without checking, refused in one line by name."""
    settings = [("", optimizer.kwargs)]
    settings += [
        (f" (param group {index})", group) for index, group in enumerate(optimizer.groups or [])
    ]
    for where, values in settings:
        for key, value in values.items():
            if key in _PAIRS and not (
                isinstance(value, (list, tuple))
                and len(value) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            ):
                raise ValueError(
                    f"{optimizer.name}: {key}{where} must be a pair of numbers, got "
                    f"{echo(repr(value))}"
                )
            numbers = value if isinstance(value, (list, tuple)) else (value,)
            for number in numbers:
                if isinstance(number, float) and not np.isfinite(number):
                    raise ValueError(
                        f"{optimizer.name}: {key}{where} must be finite, got {value!r}"
                    )


def _covered_scheduler(name: str) -> type:
    from jaxopt_lab.port import torch_schedules
    from jaxopt_lab.port.errors import PortError

    covered = {spec.__name__: spec for spec in torch_schedules.SPECS}
    if name in torch_schedules.NOT_PORTED:
        raise PortError(
            f"torch.optim.lr_scheduler.{name} cannot be ported: {torch_schedules.NOT_PORTED[name]}"
        )
    if name not in covered:
        raise ValueError(
            f"torch.optim.lr_scheduler has no scheduler {name!r} that the port covers "
            f"(covered: {', '.join(covered)})"
        )
    return covered[name]


def check_scheduler_text(text: CallText) -> None:
    """Refuse, before torch is imported, a scheduler the port does not cover (by name: only
    ``torch.optim.lr_scheduler`` classes) or arguments its spec refuses (``StepLR(step_size=0)``),
    nested schedulers too."""

    def spec_of(value):
        if isinstance(value, CallText):
            spec = _covered_scheduler(value.name)
            return spec(
                *[spec_of(a) for a in value.args],
                **{k: spec_of(v) for k, v in value.kwargs.items()},
            )
        if isinstance(value, list):
            return tuple(spec_of(item) for item in value)
        return value

    try:
        spec_of(text)
    except TypeError:
        pass  # torch's own arguments (last_epoch, ...): torch reports them when it builds


_TORCH_FAULTS = (
    TypeError,
    ValueError,
    KeyError,
    IndexError,
    ArithmeticError,
    AttributeError,
    RuntimeError,
)
"""What torch's constructors raise on arguments they do not check first."""


def _scheduler_class(name: str) -> type:
    """``torch.optim.lr_scheduler.<name>`` if it is a public scheduler class, else ``ValueError``
    (``partial``, ``ref``, ``Counter`` and ``__class__`` are attributes of that module too)."""
    from torch.optim import lr_scheduler

    value = getattr(lr_scheduler, name, None) if name in lr_scheduler.__all__ else None
    bases = (lr_scheduler.LRScheduler, lr_scheduler.ReduceLROnPlateau)
    if not (isinstance(value, type) and issubclass(value, bases)):
        raise ValueError(f"torch.optim.lr_scheduler has no scheduler {name!r}")
    return value


def _torch_builder(
    optimizer: TorchOptimizerText, scheduler: CallText | None, group_indices: list[int]
):
    """``build(tensors) -> (optimizer, scheduler)`` from the parsed texts."""
    import torch

    optimizer_class = getattr(torch.optim, optimizer.name, None)
    if not (
        isinstance(optimizer_class, type) and issubclass(optimizer_class, torch.optim.Optimizer)
    ):
        raise ValueError(f"torch.optim has no optimizer {optimizer.name!r}")
    for key, value in optimizer.kwargs.items():
        if _has_call(value):
            raise ValueError(
                f"{optimizer.name}: {key}={value.name if isinstance(value, CallText) else ''}"
                "(...) is a call; a torch optimizer's arguments are literals"
            )
    if any(_has_call(arg) for arg in optimizer.args) or _has_call(optimizer.groups or []):
        raise ValueError(f"{optimizer.name}: its param groups must be literals")

    def make_scheduler(text: CallText, torch_optimizer):
        scheduler_class = _scheduler_class(text.name)
        args = [_nested(arg, torch_optimizer) for arg in text.args]
        kwargs = {key: _nested(value, torch_optimizer) for key, value in text.kwargs.items()}
        return scheduler_class(torch_optimizer, *args, **kwargs)

    def _nested(value, torch_optimizer):
        if isinstance(value, CallText):
            return make_scheduler(value, torch_optimizer)
        if isinstance(value, list):
            return [_nested(item, torch_optimizer) for item in value]
        return value

    def build(tensors):
        if optimizer.groups is None:
            groups = tensors
        else:
            members: list[list] = [[] for _ in optimizer.groups]
            for tensor, index in zip(tensors, group_indices):  # one pass: linear in the groups
                members[index].append(tensor)
            groups = [
                {**group, "params": members[index]} for index, group in enumerate(optimizer.groups)
            ]
        torch_optimizer = optimizer_class(groups, *optimizer.args, **optimizer.kwargs)
        if scheduler is None:
            return torch_optimizer, None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return torch_optimizer, make_scheduler(scheduler, torch_optimizer)

    return build


def _keras_optimizer(optimizer: CallText) -> Any:
    keras = crosscheck.import_keras()
    optimizer_class = getattr(keras.optimizers, optimizer.name, None)
    if not (
        isinstance(optimizer_class, type)
        and issubclass(optimizer_class, keras.optimizers.Optimizer)
    ):
        raise ValueError(f"keras.optimizers has no optimizer {optimizer.name!r}")
    schedule_base = keras.optimizers.schedules.LearningRateSchedule

    def _nested(value):
        if isinstance(value, CallText):
            schedule_class = getattr(keras.optimizers.schedules, value.name, None)
            if not (
                isinstance(schedule_class, type)
                and issubclass(schedule_class, schedule_base)
                and not value.name.startswith("_")
            ):
                raise ValueError(f"keras.optimizers.schedules has no schedule {value.name!r}")
            return schedule_class(
                *[_nested(a) for a in value.args],
                **{k: _nested(v) for k, v in value.kwargs.items()},
            )
        return value

    return optimizer_class(
        *[_nested(a) for a in optimizer.args],
        **{k: _nested(v) for k, v in optimizer.kwargs.items()},
    )


@dataclasses.dataclass
class Prepared:
    """The library side of a port, built from the texts, and the port of it.

    ``library_side`` steps the live library (a
    :class:`~jaxopt_lab.crosscheck.TorchTrainingAdapter` or a Keras optimizer);
    ``live`` is the ``(optimizer, scheduler)`` the recipe was read from.
    """

    description: str
    params: dict[str, np.ndarray]
    group_of: dict[str, int] | None
    library_side: Any
    live: tuple
    recipe: Recipe


def _text(value: str | CallText, what: str) -> tuple[CallText, str]:
    """The parsed call and its text as written (for the description)."""
    if isinstance(value, CallText):
        return value, unparse(value)
    return parse_call(value, what=what), value.strip()


def prepare(
    optimizer: str | CallText,
    scheduler: str | CallText | None = None,
    *,
    library: str | None = None,
    clip_grad_norm: float | None = None,
    clip_grad_value: float | None = None,
    clip_norm_type: float = 2.0,
    scheduler_every: int = 1,
    steps: int = 1000,
    seed: int = 0,
) -> Prepared:
    """Parse the texts, build the live library objects, and port them (:func:`port_optimizer`)."""
    from jaxopt_lab.port.keras_optimizers import keras_recipe
    from jaxopt_lab.port.torch_optimizers import torch_recipe

    if library not in (None, "torch", "keras"):
        raise ValueError(f"library must be 'torch' or 'keras', got {library!r}")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    optimizer_text, optimizer_written = _text(optimizer, "optimizer")
    written_library = library_of(optimizer_text)
    if library is not None and written_library not in (None, library):
        raise ValueError(
            f"optimizer {optimizer_text.qualified} is a {written_library} class, but --from "
            f"{library} was given"
        )
    library = library or written_library or "torch"
    if library == "keras":
        if scheduler is not None or clip_grad_norm is not None or clip_grad_value is not None:
            raise ValueError(
                "with --from keras, give the schedule as learning_rate=... and clipping as "
                "clipnorm/global_clipnorm/clipvalue inside the optimizer's call"
            )
        optimizer_text = keras_text(optimizer_text)
        refuse_unresolved(optimizer_text, optimizer_written, "optimizer")
        os.environ.setdefault("KERAS_BACKEND", "jax")
        try:
            live = _keras_optimizer(optimizer_text)
        except _TORCH_FAULTS as error:
            raise ValueError(
                f"keras.optimizers.{optimizer_text.name}: {type(error).__name__}: "
                f"{echo(str(error))}"
            ) from None
        params, _ = _group_params(1, seed)
        return Prepared(
            _described("keras.optimizers", optimizer_text, optimizer_written),
            params,
            None,
            live,
            (live,),
            keras_recipe(live),
        )
    torch_optimizer = torch_optimizer_text(optimizer_text)
    refuse_unresolved(torch_optimizer, optimizer_written, "optimizer")
    scheduler_text, scheduler_written = None, None
    if scheduler is not None:
        scheduler_text, scheduler_written = _text(scheduler, "scheduler")
        scheduler_text = torch_scheduler_text(scheduler_text)
        refuse_unresolved(scheduler_text, scheduler_written, "scheduler")
    groups = len(torch_optimizer.groups) if torch_optimizer.groups else 1
    if groups > MAX_GROUPS:
        raise ValueError(
            f"{torch_optimizer.name}: {groups} param groups; the port command builds at most "
            f"{MAX_GROUPS} (port.from_torch takes any number)"
        )
    _check_torch_arguments(torch_optimizer)
    if scheduler_text is not None:
        check_scheduler_text(scheduler_text)
    params, group_of = _group_params(groups, seed)
    build = _torch_builder(torch_optimizer, scheduler_text, jax.tree.leaves(group_of))
    import torch

    try:
        live = build([torch.zeros(np.shape(leaf)) for leaf in jax.tree.leaves(params)])
    except _TORCH_FAULTS as error:
        raise ValueError(f"torch rejected it: {echo(str(error))[1:-1]}") from None
    recipe = torch_recipe(
        *live,
        clip_grad_norm=clip_grad_norm,
        clip_grad_value=clip_grad_value,
        clip_norm_type=clip_norm_type,
        scheduler_every=scheduler_every,
        group_of=group_of if groups > 1 else None,
        steps=steps,
    )
    side = crosscheck.TorchTrainingAdapter(
        build,
        clip_grad_norm=clip_grad_norm,
        clip_grad_value=clip_grad_value,
        clip_norm_type=clip_norm_type,
        scheduler_every=scheduler_every,
    )
    description = _described("torch.optim", optimizer_text, optimizer_written) + (
        " + " + _described("lr_scheduler", scheduler_text, scheduler_written)
        if scheduler_text is not None
        else ""
    )
    return Prepared(description, params, group_of if groups > 1 else None, side, live, recipe)


def _described(prefix: str, call: CallText, written: str) -> str:
    """The call as the user wrote it, qualified once."""
    written = written if len(written) <= 300 else written[:280] + " ..."
    return written if call.module else f"{prefix}.{written}"
