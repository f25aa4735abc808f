"""A half-trained Keras run moved to its optax port and back (``port.keras_state``).

Keras runs N steps; its variables and optimizer slots move to JAX; JAX runs M more
steps: that must be Keras's N + M steps, within the port's bound (1 ulp of the leaf's
scale per step in float32, 1e-12 relative in float64 unless the case says why). Then the
reverse. Every Keras optimizer whose state the port moves, with a schedule where the
optimizer takes one, in float32 and float64.
"""

from __future__ import annotations

import jax
import numpy as np
import optax
import pytest

from jaxopt_lab import crosscheck, port
from jaxopt_lab.port.command import parse_call
from jaxopt_lab.port.library_side import _keras_optimizer

BEFORE, AFTER = 6, 6

CASES = [
    ("SGD(learning_rate=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)", 1e-12),
    ("SGD(learning_rate=ExponentialDecay(0.05, decay_steps=3, decay_rate=0.8))", 1e-12),
    (
        "Adam(learning_rate=ExponentialDecay(1e-2, decay_steps=3, decay_rate=0.8), beta_1=0.8)",
        1e-12,
    ),
    ("AdamW(learning_rate=1e-2, weight_decay=0.1, amsgrad=True, clipnorm=1.0)", 1e-12),
    ("Adagrad(learning_rate=0.05, initial_accumulator_value=0.2)", 1e-12),
    ("RMSprop(learning_rate=1e-2, rho=0.95, momentum=0.9, centered=True)", 1e-12),
    ("Adamax(learning_rate=2e-2, beta_1=0.8)", 1e-12),
    ("Nadam(learning_rate=CosineDecay(1e-2, decay_steps=20), weight_decay=0.01)", 1e-12),
    ("Adadelta(learning_rate=1.0, rho=0.9)", 1e-12),
    ("Lion(learning_rate=3e-3, weight_decay=0.1)", 1e-12),
    ("Lamb(learning_rate=1e-2, weight_decay=0.1)", 1e-12),
    # Keras takes Adafactor's ops.mean in float32 also for float64 variables (the matrix's
    # bound for it, 1e-6).
    ("Adafactor(learning_rate=0.1, weight_decay=0.1)", 1e-6),
    # The variables are the schedule-free y, the _momentums its z; the averaging weights are
    # the port's own, replayed for the count.
    ("ScheduleFreeAdamW(learning_rate=1e-2, warmup_steps=4, weight_decay=0.1)", 1e-12),
    (
        "ScheduleFreeAdamW(learning_rate=CosineDecay(1e-2, decay_steps=20), beta_1=0.8, "
        "global_clipnorm=1.0)",
        1e-12,
    ),
    # Keras takes the Newton-Schulz norm with ops.norm in float32 on float64 input (the
    # matrix's bound for it, 1e-6). The bias takes Muon's Adam, the matrix Muon.
    ("Muon(learning_rate=2e-2, momentum=0.9, weight_decay=0.01, adam_weight_decay=0.1)", 1e-6),
    (
        "Muon(learning_rate=ExponentialDecay(2e-2, decay_steps=3, decay_rate=0.8), "
        "nesterov=False, adam_lr_ratio=1.0)",
        1e-6,
    ),
]
DTYPES = [np.float32, np.float64]

FLOAT32_ULPS = {"Muon": 64.0}
"""Optimizers held in float32 to the port matrix's bound for them (ulps of the leaf's scale at
any step) rather than 1 per step: the lab's Adam for Keras Muon's non-matrix leaves takes
1 - b**t accurately where Keras takes it in float32: 17 ulps of the bias after 12 steps of
the port alone, 5.3 (Keras to JAX) and 13.2 (JAX to Keras) moved mid-run."""


def _params(text=""):
    """A bias and a weight; for Keras Muon also an embedding table, which it steps with Adam."""
    rng = np.random.default_rng(0)
    params = {"b": rng.standard_normal(3), "w": rng.standard_normal((4, 3))}
    if text.startswith("Muon"):
        params["embedding"] = rng.standard_normal((5, 3))
    return params


class _Keras:
    """A Keras optimizer (from a call text) over Keras variables made from ``params``, each
    named by its key (Keras Muon routes a variable whose path holds "embedding" to Adam)."""

    def __init__(self, text, params, dtype):
        keras = crosscheck.import_keras()
        self.treedef = jax.tree.structure(params)
        self.variables = [
            keras.Variable(
                np.asarray(leaf, dtype),
                dtype=np.dtype(dtype).name,
                name=jax.tree_util.keystr(path, simple=True),
            )
            for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]
        ]
        self.optimizer = _keras_optimizer(parse_call(text))
        self.optimizer.build(self.variables)

    def steps(self, gradient_leaves, start, stop, dtype):
        for step in range(start, stop):
            grads = [np.asarray(g[step], dtype) for g in gradient_leaves]
            self.optimizer.apply(grads, self.variables)

    def params(self):
        return self.treedef.unflatten([np.asarray(v.value) for v in self.variables])


def _jax_steps(transformation, state, params, gradient_leaves, treedef, start, stop, dtype):
    update = jax.jit(transformation.update)
    for step in range(start, stop):
        grads = treedef.unflatten([np.asarray(g[step], dtype) for g in gradient_leaves])
        updates, state = update(grads, state, params)
        params = optax.apply_updates(params, updates)
    return jax.tree.map(np.asarray, params), state


def _assert_close(got, want, dtype, steps, rtol, text):
    float32_ulps = FLOAT32_ULPS.get(text.split("(")[0], steps)
    for leaf_got, leaf_want in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        error = crosscheck.normwise_relative_error(leaf_got, leaf_want)
        if dtype == np.float32:
            assert error / np.finfo(np.float32).eps <= float32_ulps, error
        else:
            assert error <= rtol, error


def _setup(text, dtype):
    params = _params(text)
    gradient_leaves = jax.tree.leaves(crosscheck.random_gradients(params, BEFORE + AFTER, seed=1))
    reference = _Keras(text, params, dtype)
    reference.steps(gradient_leaves, 0, BEFORE + AFTER, dtype)
    return params, gradient_leaves, reference.params()


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("text, rtol", CASES, ids=[text[:22] for text, _ in CASES])
def test_keras_to_jax_mid_run(text, rtol, dtype):
    with jax.enable_x64(dtype == np.float64):
        params, gradient_leaves, want = _setup(text, dtype)
        live = _Keras(text, params, dtype)
        live.steps(gradient_leaves, 0, BEFORE, dtype)
        moved = live.params()
        transformation, state = port.state_from_keras(live.optimizer, like=moved)
        got, _ = _jax_steps(
            transformation,
            state,
            moved,
            gradient_leaves,
            live.treedef,
            BEFORE,
            BEFORE + AFTER,
            dtype,
        )
    _assert_close(got, want, dtype, BEFORE + AFTER, rtol, text)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("text, rtol", CASES, ids=[text[:22] for text, _ in CASES])
def test_jax_to_keras_mid_run(text, rtol, dtype):
    with jax.enable_x64(dtype == np.float64):
        params, gradient_leaves, want = _setup(text, dtype)
        fresh = _Keras(text, params, dtype)
        start = jax.tree.map(lambda p: np.asarray(p, dtype), params)
        transformation = port.from_keras(fresh.optimizer)
        halfway, state = _jax_steps(
            transformation,
            transformation.init(start),
            start,
            gradient_leaves,
            fresh.treedef,
            0,
            BEFORE,
            dtype,
        )
        for variable, leaf in zip(fresh.variables, jax.tree.leaves(halfway), strict=True):
            variable.assign(leaf)
        assert port.state_to_keras(state, fresh.optimizer, like=halfway) == BEFORE
        fresh.steps(gradient_leaves, BEFORE, BEFORE + AFTER, dtype)
        got = fresh.params()
    _assert_close(got, want, dtype, BEFORE + AFTER, rtol, text)


def _schedule_free_scalars(state):
    """The schedule-free averaging scalars of a port state: ``(weight_sum, max_step_size)``."""
    inner = state[1] if isinstance(state, tuple) and not hasattr(state, "_fields") else state
    return inner.weight_sum, inner.max_step_size


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_schedule_free_averaging_weights_are_the_port_s_own(dtype):
    # Keras keeps no averaging weights (c = 1/t): the moved state holds what the port's own
    # run holds after the same steps, though Keras's step sizes warm up and decay.
    text = "ScheduleFreeAdamW(learning_rate=CosineDecay(1e-2, decay_steps=4), warmup_steps=3)"
    with jax.enable_x64(dtype == np.float64):
        params = _params()
        gradient_leaves = jax.tree.leaves(crosscheck.random_gradients(params, BEFORE, seed=1))
        live = _Keras(text, params, dtype)
        live.steps(gradient_leaves, 0, BEFORE, dtype)
        _, moved = port.state_from_keras(live.optimizer, like=live.params())
        transformation = port.from_keras(live.optimizer)
        start = jax.tree.map(lambda p: np.asarray(p, dtype), params)
        _, own = _jax_steps(
            transformation,
            transformation.init(start),
            start,
            gradient_leaves,
            live.treedef,
            0,
            BEFORE,
            dtype,
        )
    for moved_field, own_field in zip(
        _schedule_free_scalars(moved), _schedule_free_scalars(own), strict=True
    ):
        for a, b in zip(jax.tree.leaves(moved_field), jax.tree.leaves(own_field), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert float(jax.tree.leaves(_schedule_free_scalars(moved)[0])[0]) == BEFORE


def test_a_schedule_free_state_that_keras_would_not_continue_is_refused():
    # A state whose averaging weights are not the Keras form's (c = 1/t) cannot be written
    # into Keras, which keeps no such weights and would step otherwise.
    params = _params()
    live = _Keras("ScheduleFreeAdamW(learning_rate=1e-3)", params, np.float32)
    transformation = port.from_keras(live.optimizer)
    state = transformation.init(jax.tree.map(lambda p: np.asarray(p, np.float32), params))
    assert port.state_to_keras(state, live.optimizer, like=params) == 0
    changed = state._replace(weight_sum=jax.tree.map(lambda w: w + 1, state.weight_sum))
    with pytest.raises(port.PortError, match=r"ScheduleFreeAdamW keeps no weight_sum"):
        port.state_to_keras(changed, live.optimizer, like=params)


def test_an_optimizer_the_port_does_not_cover_is_refused_by_name():
    params = _params()
    live = _Keras("Ftrl(learning_rate=1e-3)", params, np.float32)
    with pytest.raises(port.PortError, match=r"keras\.optimizers\.Ftrl cannot be moved"):
        port.state_from_keras(live.optimizer, like=params)


def test_like_that_does_not_match_the_variables_is_refused():
    params = _params()
    live = _Keras("Adam(learning_rate=1e-3)", params, np.float32)
    with pytest.raises(ValueError, match=r"leaf 1 of like has shape \(3, 4\)"):
        port.state_from_keras(live.optimizer, like={"b": params["b"], "w": np.zeros((3, 4))})


def test_muon_s_embedding_moves_through_the_port_s_adam_group():
    # Keras Muon steps the variable named "embedding" with Adam (a momentum and a velocity),
    # the matrix w with Muon (a momentum only): the moved state puts each where the port
    # steps it.
    text = "Muon(learning_rate=2e-2, weight_decay=0.01)"
    params = _params(text)
    gradient_leaves = jax.tree.leaves(crosscheck.random_gradients(params, BEFORE, seed=1))
    live = _Keras(text, params, np.float32)
    live.steps(gradient_leaves, 0, BEFORE, np.float32)
    names = [variable.name for variable in live.variables]
    embedding, matrix = names.index("embedding"), names.index("w")
    assert live.optimizer.adam_velocities[embedding] is not None
    assert live.optimizer.adam_velocities[matrix] is None
    _, state = port.state_from_keras(live.optimizer, like=live.params())
    muon, adam = (group.inner_state for group in state[0].inner_states.values())
    np.testing.assert_array_equal(
        adam.first_moment["embedding"], live.optimizer.momentums[embedding].value
    )
    np.testing.assert_array_equal(
        adam.second_moment["embedding"], live.optimizer.adam_velocities[embedding].value
    )
    np.testing.assert_array_equal(muon.momentum["w"], live.optimizer.momentums[matrix].value)
