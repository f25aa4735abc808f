"""A live ``torch.optim`` optimizer (+ scheduler, clipping, param groups) -> a recipe.

:func:`torch_recipe` reads every hyperparameter of every param group, refuses
what it cannot reproduce exactly (:class:`~jaxopt_lab.port.errors.PortError`
naming it), and returns the :class:`~jaxopt_lab.port.recipe.Recipe` of lab
optimizers and optax pieces that does what torch does, in torch's order:
``clip -> (per group: maximize -> coupled L2 weight decay -> the step)``.

Which lab/optax setting reproduces which torch form, and why:

- ``SGD``: ``jaxopt_lab.sgd``; with momentum, ``optax.sgd`` (torch's form,
  ``b = mu*b + g; p -= lr*b``, which the lab's velocity form equals only for a
  constant learning rate), after :func:`torch_dampening` for ``dampening``.
- ``Adam`` / ``AdamW``: ``jaxopt_lab.adam`` with ``eps_hat=False``; torch's
  coupled ``weight_decay`` is ``optax.add_decayed_weights`` before it, the
  decoupled one (``AdamW``) :func:`torch_decoupled_weight_decay` after it, in
  torch's order (``jaxopt_lab.adamw`` folds the decay into the update instead,
  and drifts from torch by about 0.03 ulp a step).
- ``Adagrad``: ``jaxopt_lab.adagrad`` (eps outside the square root, the
  accumulator from ``initial_accumulator_value``, ``lr_decay``).
- ``RMSprop``: ``jaxopt_lab.rmsprop``; with momentum, torch's form
  ``buf = mu*buf + g/avg; p -= lr*buf`` as ``rmsprop(1.0) -> optax.trace ->
  scale by lr`` (the lab's own momentum accumulates ``lr*g/avg``, Keras's form).
- ``Adam(amsgrad=True)``: ``jaxopt_lab.amsgrad`` (the maximum of the raw v);
  ``Adamax``, ``Adadelta``: ``jaxopt_lab.adamax`` / ``adadelta``; ``NAdam``:
  ``jaxopt_lab.nadam`` (torch's ``momentum_decay`` schedule); ``RAdam``:
  ``jaxopt_lab.radam(eps_hat=True)``; ``Rprop``: ``jaxopt_lab.rprop`` (the
  learning rate is only the first step size, so a scheduler changes nothing
  after it). Decoupled decay (AdamW, NAdam and RAdam's
  ``decoupled_weight_decay``) is :func:`torch_decoupled_weight_decay` after
  the step, in torch's order.
- ``maximize``, coupled ``weight_decay`` and complex params: the lab's knobs
  (``maximize``, ``weight_decay``, ``complex_convention="torch"``), or
  ``optax.scale(-1.0)`` and ``optax.add_decayed_weights`` before ``optax.sgd``;
  ``OneCycleLR``'s cycled momentum or beta1 goes in through :func:`scheduled`.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable
from typing import Any

import optax

from jaxopt_lab.port import torch_schedules
from jaxopt_lab.port.errors import PortError
from jaxopt_lab.port.recipe import Call, Name, Recipe, Ref, call

MAX_PARAM_GROUPS = 256
"""Param groups the port builds: 200 groups of one leaf each take about 3 s to build and
compile on one CPU core, growing as groups x leaves (optax.partition masks every leaf for
every group)."""

IGNORED = frozenset({"foreach", "fused", "capturable", "differentiable"})
"""torch options that change how the step runs, not what it computes (ignored)."""


# --------------------------------------------------------------------------- one group


def _chain(*parts: Any) -> Any:
    parts = tuple(part for part in parts if part is not None)
    return parts[0] if len(parts) == 1 else call("optax.chain", *parts)


def scheduled(factory: Callable, **arguments: Any) -> optax.GradientTransformation:
    """``factory(**arguments)``, with each callable argument a schedule of the step count.

    ``optax.inject_hyperparams`` with every other argument static, so that
    constants stay Python numbers (injecting them as float32 arrays changes
    the arithmetic, optax#1532): ``scheduled(jaxopt_lab.adam,
    learning_rate=lr_schedule, b1=b1_schedule, b2=0.95)``.
    """
    schedules = {name for name, value in arguments.items() if callable(value)}
    static = [name for name in inspect.signature(factory).parameters if name not in schedules]
    return optax.inject_hyperparams(factory, static_args=static)(**arguments)


def _injected(factory: str, scheduled_arguments: dict[str, Any], **settings: Any) -> Call:
    """``port.scheduled(factory, ...)``: the scheduled arguments injected each step."""
    return call("port.scheduled", Ref(factory), **scheduled_arguments, **settings)


def _prefix(options: dict[str, Any]) -> list:
    """torch's first lines as optax pieces (for optax.sgd, which has no such knobs):
    ``grad = -grad`` (maximize), then ``grad += wd * param``."""
    parts = []
    if options["maximize"]:
        parts.append(call("optax.scale", -1.0))
    if options["weight_decay"] != 0:
        parts.append(call("optax.add_decayed_weights", options["weight_decay"]))
    return parts


def _knobs(options: dict[str, Any], *, coupled_decay: bool = True) -> dict[str, Any]:
    """The lab's torch conventions: ``maximize``, coupled ``weight_decay`` (torch's
    order: negate, then add ``wd * p``), and torch's complex convention."""
    knobs: dict[str, Any] = {}
    if coupled_decay and options.get("weight_decay", 0) != 0:
        knobs["weight_decay"] = options["weight_decay"]
    if options["maximize"]:
        knobs["maximize"] = True
    if options["complex"]:
        knobs["complex_convention"] = "torch"
    return knobs


def _sgd(options, lr, momentum):
    if momentum is None and options["momentum"] == 0:
        return call("jaxopt_lab.sgd", lr, **_knobs(options))
    dampening = None
    if options["dampening"] != 0:
        # torch's first buffer is the gradient itself, undamped; later ones add (1 - d) * g.
        factor = call("port.torch_dampening", options["dampening"])
        dampening = call("optax.scale_by_schedule", factor)
    if momentum is None:
        core = call("optax.sgd", lr, momentum=options["momentum"], nesterov=options["nesterov"])
    else:
        core = _injected(
            "optax.sgd", {"learning_rate": lr, "momentum": momentum}, nesterov=options["nesterov"]
        )
    return _chain(*_prefix(options), dampening, core)


def _with_beta1(factory: str, lr: Any, b1: float, beta1: Any, **settings: Any) -> Call:
    """``factory(lr, b1=...)``, or with OneCycleLR's cycled beta1 injected each step."""
    if beta1 is None:
        return call(factory, lr, b1=b1, **settings)
    return _injected(factory, {"learning_rate": lr, "b1": beta1}, **settings)


def _decoupled(options: dict[str, Any]) -> bool:
    return bool(options.get("decoupled_weight_decay")) and options["weight_decay"] != 0


def _torch_decay(options: dict[str, Any], lr: Any) -> Call | None:
    """torch's decoupled decay, ``p *= 1 - lr * wd`` before the step, if the group has it."""
    if not _decoupled(options):
        return None
    return call("port.torch_decoupled_weight_decay", options["weight_decay"], lr)


def _adam(options, lr, beta1):
    b1, b2 = options["betas"]
    knobs = _knobs(options, coupled_decay=not _decoupled(options))
    if options["amsgrad"]:  # torch: the maximum of the raw v, divided by sqrt(1 - b2**t)
        core = _with_beta1("jaxopt_lab.amsgrad", lr, b1, beta1, b2=b2, eps=options["eps"], **knobs)
    else:
        core = _with_beta1(
            "jaxopt_lab.adam", lr, b1, beta1, b2=b2, eps=options["eps"], eps_hat=False, **knobs
        )
    return _chain(core, _torch_decay(options, lr))


def _adamax(options, lr, beta1):
    b1, b2 = options["betas"]
    return _with_beta1(
        "jaxopt_lab.adamax", lr, b1, beta1, b2=b2, eps=options["eps"], **_knobs(options)
    )


def _nadam(options, lr, beta1):
    b1, b2 = options["betas"]
    knobs = _knobs(options, coupled_decay=not _decoupled(options))
    core = _with_beta1(
        "jaxopt_lab.nadam",
        lr,
        b1,
        beta1,
        b2=b2,
        eps=options["eps"],
        momentum_decay=options["momentum_decay"],
        **knobs,
    )
    return _chain(core, _torch_decay(options, lr))


def _radam(options, lr, beta1):
    b1, b2 = options["betas"]
    knobs = _knobs(options, coupled_decay=not _decoupled(options))
    # torch folds the bias correction into eps's side: sqrt(1 - b2**t) / (sqrt(v) + eps).
    core = _with_beta1(
        "jaxopt_lab.radam", lr, b1, beta1, b2=b2, eps=options["eps"], eps_hat=True, **knobs
    )
    return _chain(core, _torch_decay(options, lr))


def _adadelta(options, lr, momentum):
    return call(
        "jaxopt_lab.adadelta", lr, rho=options["rho"], eps=options["eps"], **_knobs(options)
    )


def _adafactor(options, lr, momentum):
    if options["complex"]:
        raise PortError("torch.optim.Adafactor with complex params is not covered by the port")
    eps1, eps2 = options["eps"]
    core = call(
        "jaxopt_lab.adafactor",
        lr,
        -options["beta2_decay"],
        eps1,
        eps2,
        options["d"],
        eps1_as_floor=True,  # torch floors V at eps1**2 instead of adding eps1 to g**2
        **({"maximize": True} if options["maximize"] else {}),
    )
    # torch takes rms(p) first, then p *= 1 - lr * wd, then the step: the decay after.
    decay = None
    if options["weight_decay"] != 0:
        decay = call("port.torch_decoupled_weight_decay", options["weight_decay"], lr)
    return _chain(core, decay)


def _rprop(options, lr, momentum):
    # torch reads the learning rate once, as every coordinate's first step size: a
    # scheduler changing it later changes nothing (here: its first value).
    eta_minus, eta_plus = options["etas"]
    min_step, max_step = options["step_sizes"]
    return call(
        "jaxopt_lab.rprop",
        options["initial_lr"],
        eta_minus,
        eta_plus,
        min_step_size=float(min_step),
        max_step_size=float(max_step),
        **_knobs(options),
    )


def _adagrad(options, lr, momentum):
    settings = {
        "eps": options["eps"],
        "initial_accumulator_value": float(options["initial_accumulator_value"]),
    }
    if options["lr_decay"] != 0:
        settings["lr_decay"] = options["lr_decay"]
    return call("jaxopt_lab.adagrad", lr, **settings, **_knobs(options))


def _rmsprop(options, lr, momentum):
    rms = {"decay": options["alpha"], "eps": options["eps"], **_knobs(options)}
    if options["centered"]:
        rms["centered"] = True
    if momentum is None and options["momentum"] == 0:
        return call("jaxopt_lab.rmsprop", lr, **rms)
    # torch's momentum: buf = mu * buf + g / avg; p -= lr * buf.
    if momentum is None:
        trace = call("optax.trace", decay=options["momentum"])
    else:
        trace = _injected("optax.trace", {"decay": momentum})
    scale = call("optax.scale_by_schedule", lr) if isinstance(lr, Name) else call("optax.scale", lr)
    return _chain(call("jaxopt_lab.rmsprop", 1.0, **rms), trace, scale)


# name -> (the group builder, the hyperparameters it reads)
_ADAM_KEYS = frozenset(
    {"lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "decoupled_weight_decay"}
)
_OPTIMIZERS: dict[str, tuple[Callable, frozenset]] = {
    "SGD": (
        _sgd,
        frozenset({"lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"}),
    ),
    "Adam": (_adam, _ADAM_KEYS),
    "AdamW": (_adam, _ADAM_KEYS),
    "Adagrad": (
        _adagrad,
        frozenset(
            {"lr", "lr_decay", "eps", "weight_decay", "initial_accumulator_value", "maximize"}
        ),
    ),
    "RMSprop": (
        _rmsprop,
        frozenset({"lr", "momentum", "alpha", "eps", "centered", "weight_decay", "maximize"}),
    ),
    "Adadelta": (_adadelta, frozenset({"lr", "rho", "eps", "weight_decay", "maximize"})),
    "Adamax": (_adamax, frozenset({"lr", "betas", "eps", "weight_decay", "maximize"})),
    "NAdam": (
        _nadam,
        frozenset(
            {
                "lr",
                "betas",
                "eps",
                "weight_decay",
                "momentum_decay",
                "decoupled_weight_decay",
                "maximize",
            }
        ),
    ),
    "RAdam": (
        _radam,
        frozenset({"lr", "betas", "eps", "weight_decay", "decoupled_weight_decay", "maximize"}),
    ),
    "Rprop": (_rprop, frozenset({"lr", "etas", "step_sizes", "maximize"})),
    "Adafactor": (
        _adafactor,
        frozenset({"lr", "beta2_decay", "eps", "d", "weight_decay", "maximize"}),
    ),
}
NOT_PORTED = {
    "Muon": "torch runs Muon's Newton-Schulz iteration in bfloat16, and a float32 matrix "
    "product summed in another order flips a bfloat16 rounding now and then: the lab's "
    "muon(eps_as_floor=True, ns_dtype=bfloat16, layout='out_in', non_matrix='raise') comes "
    "within 2e-5 relative after 1000 steps, not to the last ulp (see the equivalence table)",
    "LBFGS": "L-BFGS is not a first-order elementwise optimizer",
    "SparseAdam": "sparse gradients are not covered",
    "ASGD": "ASGD is not in the lab",
}
"""torch optimizers the port refuses, and why."""


def covered_optimizers() -> tuple[str, ...]:
    """The ``torch.optim`` classes :func:`from_torch` reproduces."""
    return tuple(_OPTIMIZERS)


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
    if name not in _OPTIMIZERS:
        raise PortError(
            f"torch.optim.{name} is not covered by the port; covered: {', '.join(_OPTIMIZERS)}"
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
    build, known = _OPTIMIZERS[name]
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
    return Recipe(tuple(assignments), _chain(clip, body), given)


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
