"""Hyperparameters in the dtype they will run in, and complex state dtypes (issue 19, 11-12).

``sgd(1e39)`` is refused when built under JAX's default float32 (1e39 is inf
there), and accepted under ``jax_enable_x64``; a ``state_dtype`` bounds it the
same way. A complex ``state_dtype`` is accepted, as optax accepts a complex
``mu_dtype``, and gives optax's numbers.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_lab


@pytest.mark.parametrize("value", [1e39, -1e39, 3.5e38])
def test_a_value_that_is_inf_in_float32_is_refused_when_built(value):
    with pytest.raises(ValueError, match=r"learning_rate=.* is not finite in float32, JAX's"):
        jaxopt_lab.sgd(value)
    with pytest.raises(ValueError, match=r"weight_decay=.* is not finite in float32"):
        jaxopt_lab.adamw(weight_decay=value)
    with pytest.raises(ValueError, match=r"not finite in bfloat16, state_dtype"):
        jaxopt_lab.adam(1e-3, eps=abs(value), state_dtype=jnp.bfloat16)


def test_the_same_value_is_accepted_where_it_is_finite(x64):
    optimizer = jaxopt_lab.sgd(1e39)  # float64 is JAX's default float under x64
    updates, _ = optimizer.update(jnp.ones(2), optimizer.init(jnp.zeros(2)))
    np.testing.assert_array_equal(updates, [-1e39, -1e39])
    with pytest.raises(ValueError, match="not finite in float32, state_dtype"):
        jaxopt_lab.momentum(1e39, state_dtype=jnp.float32)


def test_the_sweep_command_refuses_a_rate_that_is_inf_in_float32(tmp_path, capsys):
    from jaxopt_lab import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["trajectories", "--optimizer", "sgd:1e39", "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    assert "not finite in float32" in capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda: jaxopt_lab.adam(0.1, state_dtype="complex64"),
         lambda: optax.adam(0.1, mu_dtype=jnp.complex64)),
        (lambda: jaxopt_lab.momentum(0.1, momentum=0.9, state_dtype=jnp.complex64),
         lambda: optax.sgd(0.1, momentum=0.9, accumulator_dtype=jnp.complex64)),
    ],
    ids=["adam", "momentum"],
)  # fmt: skip
def test_a_complex_state_dtype_is_accepted_and_matches_optax(ours, theirs):
    """Real params, complex first moment: optax's numbers (rtol 1e-5: five float32 steps of
    the same formula, computed in a different order, differ by a few ulps)."""
    params = jnp.array([1.0, -2.0, 3.0])
    mine, reference = ours(), theirs()
    state, reference_state = mine.init(params), reference.init(params)
    first_moment = jax.tree.leaves(state)[1]
    assert first_moment.dtype == jnp.complex64
    p, q = params, params
    for step in range(5):
        grad = jnp.array([0.5, 0.25, -1.0]) * (step + 1)
        updates, state = mine.update(grad, state, p)
        reference_updates, reference_state = reference.update(grad, reference_state, q)
        assert updates.dtype == jnp.float32  # real updates for real params
        # optax's updates come back complex; apply_updates would drop the (zero) imaginary part
        p, q = optax.apply_updates(p, updates), optax.apply_updates(q, jnp.real(reference_updates))
    assert p.dtype == q.dtype == jnp.float32
    np.testing.assert_allclose(p, q, rtol=1e-5)


def test_a_state_dtype_that_is_not_inexact_is_still_refused():
    for dtype in ("int32", "bool", "not a dtype"):
        with pytest.raises(ValueError, match="floating-point or complex dtype"):
            jaxopt_lab.adam(state_dtype=dtype)
