"""Keras 3 learning-rate schedules as optax schedules, op for op.

Each class takes the Keras schedule's arguments and is called with the
optimizer's step count (Keras's ``iterations``: 0 on the first step), computing
what ``keras.optimizers.schedules`` computes on its JAX backend, with the same
operations in the same order and in the same dtypes: that of a Python float on
JAX (float32, or float64 under ``jax.enable_x64``), whatever the variables'
dtype, except that Keras computes ``floor``, ``ceil`` and ``cos`` of a float64
in float32. No Keras import is needed.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp


def _dtype(schedule: Any) -> Any:
    """The schedule's dtype: Keras on JAX computes in ``jnp.asarray(float)``'s dtype
    (float32, or float64 under ``jax.enable_x64``) unless told otherwise."""
    return schedule.dtype or jnp.asarray(0.0).dtype


def _tensor(value: Any, dtype: Any) -> jax.Array:
    """Keras's ``convert_to_tensor`` of a Python number: *weakly* typed, so that a
    float32 operand keeps a float64-mode result in float32, as in Keras."""
    return jnp.asarray(value) if dtype is None else jnp.asarray(value, dtype)


def _keras_unary(function: Any, x: jax.Array) -> jax.Array:
    """Keras's ``floor``, ``ceil`` and ``cos`` on JAX: a float64 input is cast to float32
    first (Keras's ``result_type(x, float)`` maps 64-bit types to 32-bit on JAX)."""
    x = jnp.asarray(x)
    if x.dtype == jnp.float64:
        x = x.astype(jnp.float32)
    return function(x)


def _check_decay_steps(name: str, value: Any) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


@dataclasses.dataclass(frozen=True)
class ExponentialDecay:
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (floored if staircase)."""

    initial_learning_rate: float
    decay_steps: float
    decay_rate: float
    staircase: bool = False
    dtype: str | None = None

    def __post_init__(self):
        _check_decay_steps("decay_steps", self.decay_steps)

    def __call__(self, step: jax.Array) -> jax.Array:
        initial_learning_rate = _tensor(self.initial_learning_rate, self.dtype)
        decay_steps = jnp.asarray(self.decay_steps, _dtype(self))
        decay_rate = jnp.asarray(self.decay_rate, _dtype(self))
        p = jnp.asarray(step).astype(_dtype(self)) / decay_steps
        if self.staircase:
            p = _keras_unary(jnp.floor, p)
        return jnp.multiply(initial_learning_rate, jnp.power(decay_rate, p))


@dataclasses.dataclass(frozen=True)
class PiecewiseConstantDecay:
    """``values[i]`` for ``boundaries[i-1] < step <= boundaries[i]``."""

    boundaries: tuple
    values: tuple
    dtype: str | None = None

    def __post_init__(self):
        if len(self.boundaries) != len(self.values) - 1:
            raise ValueError(
                f"boundaries must have one entry fewer than values, got {len(self.boundaries)} "
                f"boundaries and {len(self.values)} values"
            )

    def __call__(self, step: jax.Array) -> jax.Array:
        step = jnp.asarray(step)
        boundaries = [jnp.asarray(b).astype(step.dtype) for b in self.boundaries]
        values = [_tensor(v, self.dtype) for v in self.values]
        result = jnp.asarray(0, _dtype(self))
        result += (step <= boundaries[0]).astype(_dtype(self)) * values[0]
        result += (step > boundaries[-1]).astype(_dtype(self)) * values[-1]
        for low, high, value in zip(boundaries[:-1], boundaries[1:], values[1:-1]):
            result += ((step > low) & (step <= high)).astype(_dtype(self)) * value
        return result


@dataclasses.dataclass(frozen=True)
class PolynomialDecay:
    """``initial_learning_rate`` to ``end_learning_rate`` as ``(1 - step/decay_steps)**power``."""

    initial_learning_rate: float
    decay_steps: float
    end_learning_rate: float = 0.0001
    power: float = 1.0
    cycle: bool = False
    dtype: str | None = None

    def __post_init__(self):
        _check_decay_steps("decay_steps", self.decay_steps)

    def __call__(self, step: jax.Array) -> jax.Array:
        initial_learning_rate = _tensor(self.initial_learning_rate, self.dtype)
        end_learning_rate = jnp.asarray(self.end_learning_rate, _dtype(self))
        power = jnp.asarray(self.power, _dtype(self))
        global_step = jnp.asarray(step).astype(_dtype(self))
        decay_steps = jnp.asarray(self.decay_steps, _dtype(self))
        if self.cycle:
            multiplier = jnp.where(
                global_step == 0,
                jnp.asarray(1.0, _dtype(self)),
                _keras_unary(jnp.ceil, global_step / self.decay_steps),
            )
            decay_steps = decay_steps * multiplier
        else:
            global_step = jnp.minimum(global_step, decay_steps)
        p = global_step / decay_steps
        return (initial_learning_rate - end_learning_rate) * jnp.power(
            1 - p, power
        ) + end_learning_rate


@dataclasses.dataclass(frozen=True)
class InverseTimeDecay:
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (floored if staircase)."""

    initial_learning_rate: float
    decay_steps: float
    decay_rate: float
    staircase: bool = False
    dtype: str | None = None

    def __post_init__(self):
        _check_decay_steps("decay_steps", self.decay_steps)

    def __call__(self, step: jax.Array) -> jax.Array:
        initial_learning_rate = _tensor(self.initial_learning_rate, self.dtype)
        decay_steps = jnp.asarray(self.decay_steps, _dtype(self))
        decay_rate = jnp.asarray(self.decay_rate, _dtype(self))
        p = jnp.asarray(step).astype(_dtype(self)) / decay_steps
        if self.staircase:
            p = _keras_unary(jnp.floor, p)
        denominator = jnp.asarray(1, _dtype(self)) + decay_rate * p
        return initial_learning_rate / denominator


@dataclasses.dataclass(frozen=True)
class CosineDecay:
    """Optional linear warmup to ``warmup_target``, then cosine decay to ``alpha`` times it."""

    initial_learning_rate: float
    decay_steps: float
    alpha: float = 0.0
    warmup_target: float | None = None
    warmup_steps: float = 0
    dtype: str | None = None

    def __post_init__(self):
        _check_decay_steps("decay_steps", self.decay_steps)

    def _decay(self, step, decay_steps, decay_from_lr):
        completed_fraction = step / decay_steps
        pi = jnp.asarray(math.pi, _dtype(self))
        cosine_decayed = 0.5 * (1.0 + _keras_unary(jnp.cos, pi * completed_fraction))
        decayed = (1 - self.alpha) * cosine_decayed + self.alpha
        return decay_from_lr * decayed

    def __call__(self, step: jax.Array) -> jax.Array:
        initial_learning_rate = _tensor(self.initial_learning_rate, self.dtype)
        decay_steps = jnp.asarray(self.decay_steps, _dtype(self))
        global_step = jnp.asarray(step).astype(_dtype(self))
        if self.warmup_target is None:
            global_step = jnp.minimum(global_step, decay_steps)
            return self._decay(global_step, decay_steps, initial_learning_rate)
        warmup_target = jnp.asarray(self.warmup_target, _dtype(self))
        warmup_steps = jnp.asarray(self.warmup_steps, _dtype(self))
        global_step = jnp.minimum(global_step, decay_steps + warmup_steps)
        warmup = (warmup_target - initial_learning_rate) * (
            global_step / warmup_steps
        ) + initial_learning_rate
        decay = self._decay(global_step - warmup_steps, decay_steps, warmup_target)
        return jnp.where(global_step < warmup_steps, warmup, decay)


@dataclasses.dataclass(frozen=True)
class CosineDecayRestarts:
    """SGDR: cosine decay over periods ``first_decay_steps * t_mul**i``, peaks ``m_mul**i``."""

    initial_learning_rate: float
    first_decay_steps: float
    t_mul: float = 2.0
    m_mul: float = 1.0
    alpha: float = 0.0
    dtype: str | None = None

    def __post_init__(self):
        _check_decay_steps("first_decay_steps", self.first_decay_steps)

    def __call__(self, step: jax.Array) -> jax.Array:
        initial_learning_rate = _tensor(self.initial_learning_rate, self.dtype)
        first_decay_steps = jnp.asarray(self.first_decay_steps, _dtype(self))
        alpha = jnp.asarray(self.alpha, _dtype(self))
        t_mul = jnp.asarray(self.t_mul, _dtype(self))
        m_mul = jnp.asarray(self.m_mul, _dtype(self))
        completed_fraction = jnp.asarray(step).astype(_dtype(self)) / first_decay_steps
        if self.t_mul == 1.0:
            i_restart = _keras_unary(jnp.floor, completed_fraction)
            completed_fraction = completed_fraction - i_restart
        else:
            i_restart = _keras_unary(
                jnp.floor,
                jnp.log((1.0 - completed_fraction * (1.0 - t_mul)).astype(_dtype(self)))
                / jnp.log(t_mul),
            )
            sum_r = (1.0 - jnp.power(t_mul, i_restart)) / (1.0 - t_mul)
            completed_fraction = (completed_fraction - sum_r) / jnp.power(t_mul, i_restart)
        m_fac = jnp.power(m_mul, i_restart)
        cosine_decayed = (
            0.5
            * m_fac
            * (1.0 + _keras_unary(jnp.cos, jnp.asarray(math.pi, _dtype(self)) * completed_fraction))
        )
        decayed = (1 - alpha) * cosine_decayed + alpha
        return initial_learning_rate * decayed


@dataclasses.dataclass(frozen=True)
class InVariableDtype:
    """``schedule``'s value cast to the default float dtype, as Keras casts the learning
    rate to the variables' dtype (float64 under ``jax.enable_x64``) before any use.

    Casting float32 to float64 is exact; it matters where an optimizer multiplies the
    learning rate by another hyperparameter (``lr * weight_decay``) before it meets a
    variable: Keras does that product in the variables' dtype.
    """

    schedule: Any

    def __call__(self, step: jax.Array) -> jax.Array:
        value = jnp.asarray(self.schedule(step))
        return value.astype(jnp.promote_types(value.dtype, jnp.asarray(0.0).dtype))


SCHEDULES = {
    cls.__name__: cls
    for cls in (
        ExponentialDecay,
        PiecewiseConstantDecay,
        PolynomialDecay,
        InverseTimeDecay,
        CosineDecay,
        CosineDecayRestarts,
    )
}
"""Every Keras schedule the port reproduces, by Keras's class name."""


def from_config(class_name: str, config: dict[str, Any]) -> Any:
    """The schedule for a Keras schedule's class name and ``get_config()``."""
    from jaxopt_lab.port.errors import PortError

    if class_name not in SCHEDULES:
        raise PortError(
            f"Keras learning-rate schedule {class_name!r} is not covered by the port; covered: "
            f"{', '.join(SCHEDULES)}"
        )
    schedule = SCHEDULES[class_name]
    fields = {field.name for field in dataclasses.fields(schedule)}
    arguments = {}
    for key, value in config.items():
        if key == "name":
            continue
        if key not in fields:
            raise PortError(f"Keras {class_name} option {key!r} is not covered by the port")
        if isinstance(value, list):
            value = tuple(value)
        arguments[key] = value
    for key in ("initial_learning_rate", "values", "warmup_target", "end_learning_rate"):
        value = arguments.get(key)
        for item in value if isinstance(value, tuple) else (value,):
            if item is not None and not isinstance(item, float):
                raise PortError(
                    f"Keras {class_name} {key}={value!r}: only float learning rates are covered "
                    "(Keras computes an int schedule in integer arithmetic)"
                )
    return schedule(**arguments)
