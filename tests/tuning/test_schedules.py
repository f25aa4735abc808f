"""AlgoPerf's schedules against a NumPy transcription and against optax's own schedules."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxopt_lab import schedule_free_adamw
from jaxopt_lab.tuning import constant, warmup_constant, warmup_cosine

CASES = [(1e-3, 0.05, 100), (0.3, 0.1, 37), (2.0, 0.0, 20), (5e-4, 0.5, 11), (1e-2, 1.0, 8)]


def numpy_warmup_cosine(peak, warmup_factor, total_steps, count):
    """jax_cosine_warmup of AlgoPerf's NAdamW baseline, by hand in float64."""
    warmup = int(warmup_factor * total_steps)
    if count < warmup:
        return peak * count / warmup
    decay = max(total_steps - warmup, 1)
    return peak * 0.5 * (1 + math.cos(math.pi * min(count - warmup, decay) / decay))


def optax_warmup_cosine(peak, warmup_factor, total_steps):
    """The same schedule as AlgoPerf builds it, from optax's pieces."""
    warmup = int(warmup_factor * total_steps)
    return optax.join_schedules(
        [
            optax.linear_schedule(0.0, peak, warmup),
            optax.cosine_decay_schedule(peak, max(total_steps - warmup, 1)),
        ],
        [warmup],
    )


@pytest.mark.parametrize(("peak", "warmup_factor", "total_steps"), CASES)
def test_warmup_cosine_matches_algoperf(peak, warmup_factor, total_steps):
    schedule = warmup_cosine(peak, warmup_factor, total_steps)
    reference = optax_warmup_cosine(peak, warmup_factor, total_steps)
    counts = range(total_steps + 5)
    # float32 arithmetic against float64: a few ulps of the peak rate
    for count in counts:
        want = numpy_warmup_cosine(peak, warmup_factor, total_steps, count)
        assert float(schedule(count)) == pytest.approx(want, rel=1e-5, abs=1e-6 * peak)
        assert float(schedule(count)) == pytest.approx(float(reference(count)), abs=1e-6 * peak)
    if warmup_factor < 1:  # decayed to 0 at the budget (a warmup of the whole budget never decays)
        assert float(schedule(total_steps)) == pytest.approx(0.0, abs=1e-7 * peak)


def test_warmup_cosine_of_traced_hyperparameters_equals_each_point():
    peaks = jnp.array([1e-3, 0.1, 1.0])
    factors = jnp.array([0.05, 0.2, 0.0])
    counts = jnp.arange(30)
    swept = jax.jit(jax.vmap(lambda p, f: jax.vmap(warmup_cosine(p, f, 25))(counts)))(
        peaks, factors
    )
    for row, peak, factor in zip(swept, [1e-3, 0.1, 1.0], [0.05, 0.2, 0.0], strict=True):
        want = [numpy_warmup_cosine(peak, factor, 25, int(c)) for c in counts]
        np.testing.assert_allclose(row, want, rtol=1e-5, atol=1e-6 * peak)


@pytest.mark.parametrize(("peak", "warmup_factor", "total_steps"), CASES)
def test_warmup_constant_is_a_linear_warmup_from_the_first_step(peak, warmup_factor, total_steps):
    schedule = warmup_constant(peak, warmup_factor, total_steps)
    warmup = int(warmup_factor * total_steps)
    for count in range(total_steps + 3):
        want = peak * min(1.0, (count + 1) / warmup) if warmup else peak
        assert float(schedule(count)) == pytest.approx(want, rel=1e-6)


def test_warmup_constant_is_schedule_free_s_own_warmup():
    # schedule-free's warmup_steps=W, and its rate given as warmup_constant with no
    # warmup_steps, take the same steps (float32, identical arithmetic up to rounding)
    params = {"w": jnp.array([1.0, -2.0, 0.5])}
    own = schedule_free_adamw(0.1, warmup_steps=5)
    given = schedule_free_adamw(warmup_constant(0.1, 0.25, 20))
    state_own, state_given = own.init(params), given.init(params)
    p_own, p_given = params, params
    for step in range(12):
        grads = {"w": jnp.sin(p_own["w"] * (step + 1))}
        u_own, state_own = own.update(grads, state_own, p_own)
        u_given, state_given = given.update(
            {"w": jnp.sin(p_given["w"] * (step + 1))}, state_given, p_given
        )
        p_own, p_given = optax.apply_updates(p_own, u_own), optax.apply_updates(p_given, u_given)
        np.testing.assert_allclose(p_given["w"], p_own["w"], rtol=1e-6, atol=1e-7)


def test_constant():
    schedule = constant(0.25)
    assert [float(schedule(c)) for c in (0, 1, 1000)] == [0.25, 0.25, 0.25]
    swept = jax.vmap(lambda lr: constant(lr)(jnp.int32(7)))(jnp.array([0.1, 2.0]))
    np.testing.assert_allclose(swept, [0.1, 2.0])
