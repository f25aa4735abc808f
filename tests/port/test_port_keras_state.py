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
]
DTYPES = [np.float32, np.float64]


def _params():
    rng = np.random.default_rng(0)
    return {"b": rng.standard_normal(3), "w": rng.standard_normal((4, 3))}


class _Keras:
    """A Keras optimizer (from a call text) over Keras variables made from ``params``."""

    def __init__(self, text, params, dtype):
        keras = crosscheck.import_keras()
        self.treedef = jax.tree.structure(params)
        self.variables = [
            keras.Variable(np.asarray(leaf, dtype), dtype=np.dtype(dtype).name)
            for leaf in jax.tree.leaves(params)
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


def _assert_close(got, want, dtype, steps, rtol):
    for leaf_got, leaf_want in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        error = crosscheck.normwise_relative_error(leaf_got, leaf_want)
        if dtype == np.float32:
            assert error / np.finfo(np.float32).eps <= steps, error
        else:
            assert error <= rtol, error


def _setup(text, dtype):
    params = _params()
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
    _assert_close(got, want, dtype, BEFORE + AFTER, rtol)


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
    _assert_close(got, want, dtype, BEFORE + AFTER, rtol)


def test_schedule_free_is_refused_by_name():
    params = _params()
    live = _Keras("ScheduleFreeAdamW(learning_rate=1e-3)", params, np.float32)
    with pytest.raises(port.PortError, match=r"keras\.optimizers\.ScheduleFreeAdamW cannot"):
        port.state_from_keras(live.optimizer, like=params)


def test_like_that_does_not_match_the_variables_is_refused():
    params = _params()
    live = _Keras("Adam(learning_rate=1e-3)", params, np.float32)
    with pytest.raises(ValueError, match=r"leaf 1 of like has shape \(3, 4\)"):
        port.state_from_keras(live.optimizer, like={"b": params["b"], "w": np.zeros((3, 4))})
