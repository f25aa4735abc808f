"""torch's schedulers in closed form, in the dtype of the run: the value at any epoch.

torch's schedulers are recursive (``lr *= gamma``; the cosine's ratio of
cosines), so the closed form they approximate is not their value bit for bit.
The port tabulates torch's own values where it knows how far the run goes,
and past the table (or without ``steps=``) continues with the closed form
below instead of failing: :func:`closed_form` gives it per param group,
:func:`closed_form_distance` measures how far it lands from torch's recursion
(in ulps of the schedule's peak, per scheduler step).

Each closed form is torch's own ``_get_closed_form_lr`` where it has one
(StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR, PolynomialLR,
CosineAnnealingLR), torch's ``get_lr`` from the epoch for the schedulers that
are not recursive (CosineAnnealingWarmRestarts, OneCycleLR), and for
``SequentialLR`` the piece of the scheduler in force at that epoch. Past
``OneCycleLR``'s end, where torch raises, it holds the final value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.port import torch_arithmetic as arithmetic

EpochFunction = Callable[[jax.Array], jax.Array]
"""A value of the schedule as a function of the scheduler's epoch (an int array)."""


class ClosedForm(NamedTuple):
    """Per param group, the learning rate (and cycled momentum/beta1, else None) at an epoch."""

    lr: tuple[EpochFunction, ...]
    momentum: tuple[EpochFunction, ...] | None


def closed_form(spec: Any, groups: Sequence[Mapping[str, Any]]) -> ClosedForm:
    """The closed form of a :mod:`~jaxopt_lab.port.torch_schedules` spec on these groups.

    Built from torch's scheduler as simulated (its base learning rates and
    OneCycleLR's derived values), so it starts where the table starts.
    """
    simulation = arithmetic.build(spec, arithmetic.SimulatedOptimizer(groups))
    count = len(simulation.optimizer.param_groups)
    lr = tuple(_lr_function(simulation, index) for index in range(count))
    momentum = None
    if _cycles(simulation):
        momentum = tuple(_momentum_function(simulation, index) for index in range(count))
    return ClosedForm(lr, momentum)


def _cycles(simulation: Any) -> bool:
    if isinstance(simulation, arithmetic._SequentialLR):
        return any(_cycles(sub) for sub in simulation._schedulers)
    return isinstance(simulation, arithmetic._OneCycleLR) and simulation.cycle_momentum


def _float(epoch: jax.Array) -> jax.Array:
    return jnp.asarray(epoch).astype(jnp.result_type(float))


def _int32(count: int) -> int:
    """A count clipped to int32 (an optimizer's step count never passes it)."""
    return min(int(count), 2**31 - 1)


def _lr_function(simulation: Any, group: int) -> EpochFunction:  # noqa: C901 (one case each)
    """The closed form of one simulated scheduler for param group ``group``."""
    s = simulation
    if isinstance(s, arithmetic._SequentialLR):
        return _piecewise(s, [_lr_function(sub, group) for sub in s._schedulers])
    if isinstance(s, arithmetic._OneCycleLR):
        return _one_cycle(s, group, "lr")
    base = s.base_lrs[group]
    if isinstance(s, arithmetic._StepLR):
        return lambda e: base * jnp.power(s.gamma, _float(jnp.asarray(e) // _int32(s.step_size)))
    if isinstance(s, arithmetic._MultiStepLR):
        milestones = jnp.asarray([_int32(m) for m in sorted(s.milestones.elements())], jnp.int32)
        return lambda e: (
            base
            * jnp.power(s.gamma, _float(jnp.searchsorted(milestones, jnp.asarray(e), side="right")))
        )
    if isinstance(s, arithmetic._ConstantLR):
        return lambda e: (
            base * (s.factor + _float(jnp.asarray(e) >= _int32(s.total_iters)) * (1 - s.factor))
        )
    if isinstance(s, arithmetic._LinearLR):
        return lambda e: (
            base
            * (
                s.start_factor
                + (s.end_factor - s.start_factor)
                * _float(jnp.minimum(_int32(s.total_iters), e))
                / s.total_iters
            )
        )
    if isinstance(s, arithmetic._ExponentialLR):
        return lambda e: base * jnp.power(s.gamma, _float(e))
    if isinstance(s, arithmetic._PolynomialLR):
        return lambda e: (
            base
            * jnp.power(
                1.0 - _float(jnp.minimum(_int32(s.total_iters), e)) / s.total_iters, s.power
            )
        )
    if isinstance(s, arithmetic._CosineAnnealingLR):
        return lambda e: (
            s.eta_min + (base - s.eta_min) * (1 + jnp.cos(math.pi * _float(e) / s.T_max)) / 2
        )
    if isinstance(s, arithmetic._CosineAnnealingWarmRestarts):
        return _warm_restarts(s, base)
    raise TypeError(f"no closed form for {type(s).__name__}")


def _piecewise(s: Any, pieces: list[EpochFunction]) -> EpochFunction:
    """SequentialLR: ``pieces[i]`` at ``epoch - milestones[i - 1]`` from that milestone on."""
    starts = [0, *s._milestones]

    def value(epoch):
        epoch = jnp.asarray(epoch)
        result = pieces[0](epoch)
        for start, piece in zip(starts[1:], pieces[1:]):
            result = jnp.where(epoch >= start, piece(jnp.maximum(epoch - start, 0)), result)
        return result

    return value


_MAX_RESTARTS = 64
"""Periods of CosineAnnealingWarmRestarts tabulated for T_mult > 1 (2**64 epochs and more)."""


def _warm_restarts(s: Any, base: float) -> EpochFunction:
    """torch's ``T_cur / T_i`` from the epoch: periods ``T_0 * T_mult**k`` back to back."""
    if s.T_mult == 1:
        return lambda e: (
            s.eta_min
            + (base - s.eta_min)
            * (1 + jnp.cos(math.pi * _float(jnp.asarray(e) % _int32(s.T_0)) / s.T_0))
            / 2
        )
    starts, lengths, start, length = [], [], 0, s.T_0
    for _ in range(_MAX_RESTARTS):
        starts.append(start)
        lengths.append(length)
        start, length = start + length, length * s.T_mult
        if start > 2**62:
            break
    starts_array = np.asarray(starts, np.float64)
    lengths_array = np.asarray(lengths, np.float64)

    def value(e):
        epoch = _float(e)
        period = jnp.searchsorted(jnp.asarray(starts_array, epoch.dtype), epoch, side="right") - 1
        t_cur = epoch - jnp.asarray(starts_array, epoch.dtype)[period]
        t_i = jnp.asarray(lengths_array, epoch.dtype)[period]
        return s.eta_min + (base - s.eta_min) * (1 + jnp.cos(math.pi * t_cur / t_i)) / 2

    return value


def _one_cycle(s: Any, group: int, what: str) -> EpochFunction:
    """torch's ``get_lr`` at the epoch (its phases and anneal), held at its end past it."""
    values = s.optimizer.param_groups[group]
    phases = s._schedule_phases
    keys = ("start_lr", "end_lr") if what == "lr" else ("start_momentum", "end_momentum")

    def anneal(start, end, pct):
        if s.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (jnp.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def value(e):
        step = jnp.minimum(_float(e), float(s.total_steps))
        result = None
        start_step = 0.0
        for index in reversed(range(len(phases))):
            start_step = 0.0 if index == 0 else phases[index - 1]["end_step"]
            end_step = phases[index]["end_step"]
            pct = (step - start_step) / (end_step - start_step)
            piece = anneal(values[phases[index][keys[0]]], values[phases[index][keys[1]]], pct)
            if result is None:
                result = piece
            else:
                result = jnp.where(step <= end_step, piece, result)
        return result

    return value


def _momentum_function(simulation: Any, group: int) -> EpochFunction:
    s = simulation
    if isinstance(s, arithmetic._SequentialLR):
        pieces = [_momentum_function(sub, group) for sub in s._schedulers]
        return _piecewise(s, pieces)
    if isinstance(s, arithmetic._OneCycleLR) and s.cycle_momentum:
        return _one_cycle(s, group, "momentum")
    start = s.optimizer.param_groups[group]
    constant = start["betas"][0] if "betas" in start else start.get("momentum", 0.0)
    return lambda e: jnp.full(jnp.shape(e), constant, jnp.result_type(float))


# --------------------------------------------------------------------------- distance


class ClosedFormDistance(NamedTuple):
    """How far the closed form lands from torch's recursion, over ``epochs`` scheduler steps.

    ``max_ulps``: the largest distance at any epoch, in ulps (of ``dtype``) of the
    schedule's peak (its largest absolute value over the epochs, per group);
    ``ulps_per_step``: the largest of ``distance[e] / e`` (e >= 1), the growth
    a run sees per scheduler step.
    """

    epochs: int
    dtype: str
    max_ulps: float
    ulps_per_step: float


def closed_form_distance(
    spec: Any, groups: Sequence[Mapping[str, Any]], epochs: int, dtype: Any = np.float32
) -> ClosedFormDistance:
    """Measure :func:`closed_form` against torch's values (simulated in float64 and rounded
    to ``dtype``, as a run in that dtype sees them) over ``epochs`` scheduler steps (up to
    ``OneCycleLR``'s end, past which torch raises)."""
    from jaxopt_lab.port.torch_schedules import _horizon, simulate

    dtype = np.dtype(dtype)
    epochs = int(epochs)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    kind, horizon = _horizon(spec)
    if kind == "ends":  # torch raises past OneCycleLR's end: measured up to it
        epochs = min(epochs, horizon + 1)
    table = simulate(spec, groups, epochs)
    with jax.enable_x64(dtype == np.float64):
        form = closed_form(spec, groups)
        index = jnp.arange(epochs)
        columns = [(table.lr, form.lr)]
        if table.momentum is not None and form.momentum is not None:
            columns.append((table.momentum, form.momentum))
        worst_ulps, worst_per_step = 0.0, 0.0
        for values, functions in columns:
            for group, function in enumerate(functions):
                expected = values[:, group].astype(dtype)
                got = np.asarray(jax.jit(function)(index)).astype(dtype)
                scale = float(np.max(np.abs(expected))) or 1.0
                ulps = np.abs(got.astype(np.float64) - expected) / (np.finfo(dtype).eps * scale)
                worst_ulps = max(worst_ulps, float(np.max(ulps)))
                if epochs > 1:
                    worst_per_step = max(
                        worst_per_step, float(np.max(ulps[1:] / np.arange(1, epochs)))
                    )
    return ClosedFormDistance(epochs, dtype.name, worst_ulps, worst_per_step)
