"""A default search space for every lab optimizer, and the map from a point to its settings.

Spaces are in AlgoPerf's ``tuning_search_space.json`` format (:mod:`.search_space`). Where
AlgoPerf has the optimizer (NAdamW, AdamW, heavy-ball Momentum, Nesterov, LAMB, Adafactor), the
space is AlgoPerf's baseline space (``reference_algorithms/paper_baselines/<name>/
tuning_search_space.json``, mlcommons/algorithmic-efficiency) without the two entries the lab
cannot use: ``dropout_rate`` (no workload has dropout) and ``label_smoothing``, which belongs to
the workload and is added by :func:`default_space` only for a workload that has one (AlgoPerf's
feasible points, 0.1 and 0.2). Lab deviations, each for a reason:

- NAdamW: the ``nadamw_baseline`` space of ``tests/data/algoperf_halton_points.json``
  (AlgoPerf's NAdamW space as recorded there; its own file was not among the sources read).
- Momentum: AlgoPerf's heavy-ball baseline tunes the same hyperparameters as its Nesterov one;
  both get Nesterov's space. AlgoPerf decays their rate linearly to ``end_factor`` over
  ``decay_steps_factor`` of the budget; the lab gives every optimizer one schedule (warmup then
  cosine), so those two entries are dropped. The lab's momentum and Nesterov keep the rate
  inside the velocity (Keras's form, ``v = mu v - lr g``); optax's, which AlgoPerf uses, keep it
  outside (``b = mu b + g; p -= lr b``): equal at a constant rate, not under a schedule.
- Adafactor: the lab's Adafactor has no first moment, so ``one_minus_beta1`` is dropped.

The other optimizers are the lab's choice: the space of their nearest AlgoPerf relative, with
the rate range moved to where the optimizer's default sits, and no weight decay where the
optimizer's classic form has none (the tutorial's SGD, Adagrad, Adam; Adam's relatives).

A point maps to keyword arguments by :func:`optimizer_settings`: ``learning_rate`` and
``warmup_factor`` become a schedule (:mod:`.schedules`), ``one_minus_beta1`` becomes ``b1 = 1 - x``
(or ``momentum = 1 - x``), ``beta2`` becomes ``b2`` (RMSProp's ``decay``, Adadelta's ``rho``),
``label_smoothing`` is left to the workload, and any other name is passed as is. Values may be
JAX tracers (a study vmaps over points): nothing here branches on them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from jaxopt_lab.grid import hyperparameter_names
from jaxopt_lab.optimizers import OPTIMIZERS
from jaxopt_lab.tuning import schedules
from jaxopt_lab.tuning.search_space import SearchSpace, SearchSpaceError

SCHEDULES = ("warmup_cosine", "constant")

WORKLOAD_HYPERPARAMETERS = ("label_smoothing",)
"""Names a space may tune that the workload, not the optimizer, takes."""

LABEL_SMOOTHING = {"feasible_points": [0.1, 0.2]}
"""AlgoPerf's label smoothing points (every baseline space has them)."""


def _log(low: float, high: float) -> dict[str, Any]:
    return {"min": low, "max": high, "scaling": "log"}


def _fixed(*values: float) -> dict[str, Any]:
    return {"feasible_points": list(values)}


_WARMUP = _fixed(0.05)  # every AlgoPerf baseline: 5% of the budget
_ADAM_LIKE = {  # AlgoPerf's AdamW space without weight decay: the lab's space for Adam's family
    "learning_rate": _log(1e-4, 1e-2),
    "one_minus_beta1": _log(2e-2, 0.5),
    "beta2": _fixed(0.999),
    "warmup_factor": _WARMUP,
}
_HEAVY_BALL = {  # AlgoPerf's Nesterov space (paper_baselines/nesterov)
    "learning_rate": _log(2e-2, 5.0),
    "one_minus_beta1": _log(5e-3, 0.3),
    "warmup_factor": _WARMUP,
    "weight_decay": _log(1e-7, 5e-5),
}

DEFAULT_SPACES: dict[str, dict[str, dict[str, Any]]] = {
    # AlgoPerf's baseline spaces
    "nadamw": {
        "learning_rate": _log(1e-4, 1e-2),
        "one_minus_beta1": _log(2e-2, 0.2),
        "beta2": _fixed(0.999),
        "warmup_factor": _WARMUP,
        "weight_decay": _log(5e-3, 1.0),
    },
    "adamw": {**_ADAM_LIKE, "weight_decay": _log(5e-3, 1.0)},
    "momentum": _HEAVY_BALL,
    "nesterov": _HEAVY_BALL,
    "lamb": {
        "learning_rate": _log(1e-4, 1e-2),
        "one_minus_beta1": _log(5e-2, 0.3),
        "beta2": _fixed(0.999),
        "warmup_factor": _WARMUP,
        "weight_decay": _log(1e-3, 1.0),
    },
    "adafactor": {
        "learning_rate": _log(1e-4, 1e-2),
        "warmup_factor": _WARMUP,
        "weight_decay": _log(1e-3, 1.0),
    },
    # the lab's choices
    "sgd": {"learning_rate": _log(1e-3, 3.0), "warmup_factor": _WARMUP},
    "adagrad": {"learning_rate": _log(1e-3, 1.0), "warmup_factor": _WARMUP},
    "rmsprop": {"learning_rate": _log(1e-5, 1e-2), "beta2": _fixed(0.99), "warmup_factor": _WARMUP},
    "adadelta": {"learning_rate": _log(5e-2, 20.0), "warmup_factor": _WARMUP},
    "adam": _ADAM_LIKE,
    "amsgrad": _ADAM_LIKE,
    "adamax": _ADAM_LIKE,
    "nadam": _ADAM_LIKE,
    "radam": _ADAM_LIKE,
    # Rprop's learning_rate is its initial step size, adapted per coordinate: no schedule
    "rprop": {"learning_rate": _log(1e-4, 1e-1)},
    # Lion (Chen et al. 2023): a rate 3-10x below AdamW's, a decay 3-10x above, b2 0.99
    "lion": {
        "learning_rate": _log(1e-5, 1e-3),
        "one_minus_beta1": _log(2e-2, 0.5),
        "beta2": _fixed(0.99),
        "warmup_factor": _WARMUP,
        "weight_decay": _log(1.5e-2, 3.0),
    },
    # Muon (Jordan et al. 2024): rate around 0.02, momentum around 0.95
    "muon": {
        "learning_rate": _log(2e-3, 2e-1),
        "one_minus_beta1": _log(2e-2, 0.2),
        "warmup_factor": _WARMUP,
    },
    # AlgoPerf's AdamW space; the warmup is schedule-free's own, there is no decay
    "schedule_free_adamw": {**_ADAM_LIKE, "weight_decay": _log(5e-3, 1.0)},
}

FIXED_SETTINGS: dict[str, dict[str, Any]] = {
    "nadamw": {"momentum_decay": None},  # constant momentum, as AlgoPerf's (and optax's) NAdamW
    "adamw": {"eps": 1e-8},  # AlgoPerf's optax.adamw
    "adafactor": {"relative_step": False},  # the tuned rate, not 1/sqrt(t)
}
"""Settings that are not tuned but differ from the lab's defaults, and why."""

_FIRST_MOMENT = {"b1": "b1", "momentum": "momentum"}  # optimizer argument for 1 - one_minus_beta1
_SECOND_MOMENT = ("b2", "decay", "rho")  # optimizer argument for beta2, in order of preference


def _check_optimizer(optimizer_name: str) -> None:
    if optimizer_name not in OPTIMIZERS:
        raise SearchSpaceError(
            f"optimizer: unknown {optimizer_name!r} (choose from {', '.join(OPTIMIZERS)})"
        )


def default_space(optimizer_name: str, *, label_smoothing: bool = False) -> dict[str, Any]:
    """A copy of ``optimizer_name``'s default space; with AlgoPerf's label smoothing if asked."""
    _check_optimizer(optimizer_name)
    space = copy.deepcopy(DEFAULT_SPACES[optimizer_name])
    if label_smoothing:
        space["label_smoothing"] = copy.deepcopy(LABEL_SMOOTHING)
    return space


def _renames(optimizer_name: str) -> dict[str, str]:
    """Space name -> optimizer argument, for the names that are renamed."""
    accepted = hyperparameter_names(OPTIMIZERS[optimizer_name])
    renames = {}
    first = [argument for argument in _FIRST_MOMENT if argument in accepted]
    if first:
        renames["one_minus_beta1"] = first[0]
    second = [argument for argument in _SECOND_MOMENT if argument in accepted]
    if second:
        renames["beta2"] = second[0]
    return renames


def tunable_names(
    optimizer_name: str, workload_hyperparameters: Iterable[str] = WORKLOAD_HYPERPARAMETERS
) -> tuple[str, ...]:
    """Every name a space for ``optimizer_name`` may hold (on a workload taking those names)."""
    _check_optimizer(optimizer_name)
    accepted = hyperparameter_names(OPTIMIZERS[optimizer_name])
    schedule = () if optimizer_name == "rprop" else ("warmup_factor",)
    return tuple(
        dict.fromkeys([*accepted, *schedule, *_renames(optimizer_name), *workload_hyperparameters])
    )


def _names(space: Any) -> tuple[str, ...]:
    """The names ``space`` tunes: a dict space's keys, a list space's first point's keys, or
    the names themselves (a sequence of strings); the values are not read."""
    if isinstance(space, Mapping):
        return tuple(space)
    if isinstance(space, Sequence) and not isinstance(space, (str, bytes)):
        if all(isinstance(name, str) for name in space):
            return tuple(space)
        if space and isinstance(space[0], Mapping):
            return tuple(space[0])
    raise SearchSpaceError(
        f"search space: must be a dict of hyperparameters or a list of points, got {space!r}"
    )


def check_space(
    optimizer_name: str,
    space: SearchSpace | Sequence[str],
    *,
    workload_hyperparameters: Iterable[str] = WORKLOAD_HYPERPARAMETERS,
) -> None:
    """Raise :class:`SearchSpaceError` (one line) for a name ``optimizer_name`` cannot tune.

    ``space``: a dict or list space, or just the names it tunes (its ranges are checked by
    :func:`~jaxopt_lab.tuning.search_space.parse_search_space`, not here).
    ``workload_hyperparameters``: what the workload takes (``()`` for one without label
    smoothing). Rprop takes no ``warmup_factor`` (its rate is an initial step size).
    """
    allowed = tunable_names(optimizer_name, tuple(workload_hyperparameters))
    for name in _names(space):
        if name not in allowed:
            raise SearchSpaceError(
                f"search space: {optimizer_name} has no hyperparameter {name!r} "
                f"(it takes {', '.join(allowed)})"
            )


def learning_rate_schedule(
    optimizer_name: str, point: Mapping[str, Any], *, total_steps: int, schedule: str
) -> Any:
    """The ``learning_rate`` argument for ``point``: a schedule, or Rprop's initial step."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule: unknown {schedule!r} (choose from {', '.join(SCHEDULES)})")
    peak = point["learning_rate"]
    warmup_factor = point.get("warmup_factor", 0.0)
    if optimizer_name == "rprop":
        return peak
    if schedule == "constant":
        return schedules.constant(peak)
    if optimizer_name == "schedule_free_adamw":  # schedule-free: warmup, no decay
        return schedules.warmup_constant(peak, warmup_factor, total_steps)
    return schedules.warmup_cosine(peak, warmup_factor, total_steps)


def optimizer_settings(
    optimizer_name: str,
    point: Mapping[str, Any],
    *,
    total_steps: int,
    schedule: str = "warmup_cosine",
) -> dict[str, Any]:
    """Keyword arguments of ``OPTIMIZERS[optimizer_name]`` for one point of its space.

    ``learning_rate`` (required) and ``warmup_factor`` (0 when absent) become the schedule:
    ``"warmup_cosine"`` (AlgoPerf's; schedule-free AdamW gets its warmup without the decay) or
    ``"constant"``. ``one_minus_beta1`` x -> ``b1 = 1 - x`` (``momentum = 1 - x``), ``beta2`` ->
    ``b2`` (``decay``, ``rho``); ``label_smoothing`` is dropped (the workload's); other names pass
    through, and :data:`FIXED_SETTINGS` fill in the rest. Values may be JAX tracers.
    """
    _check_optimizer(optimizer_name)
    if "learning_rate" not in point:
        raise SearchSpaceError(f"search space: {optimizer_name} needs a 'learning_rate'")
    check_space(optimizer_name, tuple(point))
    renames = _renames(optimizer_name)
    settings = dict(FIXED_SETTINGS.get(optimizer_name, {}))
    for name, value in point.items():
        if name in ("learning_rate", "warmup_factor", *WORKLOAD_HYPERPARAMETERS):
            continue
        if name == "one_minus_beta1":
            settings[renames[name]] = 1 - value
        else:
            settings[renames.get(name, name)] = value
    settings["learning_rate"] = learning_rate_schedule(
        optimizer_name, point, total_steps=total_steps, schedule=schedule
    )
    return settings
