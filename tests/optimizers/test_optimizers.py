"""The lab's optimizers against the tutorial's NumPy code, optax, and bad input."""

from __future__ import annotations

import inspect
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_lab
from jaxopt_lab import reference
from jaxopt_lab.optimizers import OPTIMIZERS, hyperparameters, sgd

TUTORIAL_DEFAULTS = ["sgd", "momentum", "adagrad", "rmsprop", "adam"]


def run_lab(optimizer, params, gradient_sequence):
    """Step a lab optimizer over a list of gradient trees; return the final params."""

    @jax.jit
    def step(params, state, grads):
        updates, state = optimizer.update(grads, state, params)
        return jaxopt_lab.apply_updates(params, updates), state

    state = optimizer.init(params)
    for grads in gradient_sequence:
        params, state = step(params, state, grads)
    return params


def gradient_sequence(params, steps, seed=1):
    rng = np.random.default_rng(seed)
    return [jax.tree.map(lambda p: rng.standard_normal(np.shape(p)), params) for _ in range(steps)]


def normwise_error(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


@pytest.mark.parametrize("name", TUTORIAL_DEFAULTS)
def test_defaults_match_seed_numpy_in_float64(name, x64):
    # The tutorial's classes mutate a flat dict; the lab runs over a nested tree with
    # the same arrays. 300 steps in float64: the tutorial and the lab use the same
    # formula, so only rounding order differs (~1e-16 per step); 1e-12 is the
    # core issue's bound.
    rng = np.random.default_rng(0)
    flat = {
        "w": rng.standard_normal((4, 3)),
        "b": rng.standard_normal(3),
        "s": rng.standard_normal(()),
    }
    grads = gradient_sequence(flat, 300)
    seed_optimizer = reference.REFERENCES[name]()
    seed_params = {key: value.copy() for key, value in flat.items()}
    for g in grads:
        seed_optimizer.update(seed_params, g)

    nested = {"layer": [flat["w"], (flat["b"],)], "scale": flat["s"]}
    nested_grads = [{"layer": [g["w"], (g["b"],)], "scale": g["s"]} for g in grads]
    lab = run_lab(jaxopt_lab.OPTIMIZERS[name](), jax.tree.map(jnp.asarray, nested), nested_grads)
    assert lab["layer"][0].dtype == jnp.float64
    for lab_leaf, key in [(lab["layer"][0], "w"), (lab["layer"][1][0], "b"), (lab["scale"], "s")]:
        assert normwise_error(lab_leaf, seed_params[key]) <= 1e-12


def test_seed_nesterov_is_not_the_standard_form(x64):
    params = {"w": np.linspace(-1.0, 1.0, 5)}
    grads = gradient_sequence(params, 50)
    seed_params = {"w": params["w"].copy()}
    seed_optimizer = reference.Nesterov()
    for g in grads:
        seed_optimizer.update(seed_params, g)
    lab = run_lab(jaxopt_lab.nesterov(), params, grads)
    assert normwise_error(lab["w"], seed_params["w"]) > 1e-3


class Layer(NamedTuple):
    weight: jax.Array
    bias: jax.Array | None


@pytest.mark.parametrize(
    ("lab", "other"),
    [
        (jaxopt_lab.sgd(0.1), optax.sgd(0.1)),
        (jaxopt_lab.momentum(0.1, 0.8), optax.sgd(0.1, momentum=0.8)),
        (jaxopt_lab.nesterov(0.1, 0.8), optax.sgd(0.1, momentum=0.8, nesterov=True)),
        (
            jaxopt_lab.adagrad(0.1, initial_accumulator_value=0.1, eps_in_sqrt=True),
            optax.adagrad(0.1),
        ),
        (
            jaxopt_lab.rmsprop(0.01, 0.9, 1e-6, eps_in_sqrt=True, initial_scale=0.5),
            optax.rmsprop(0.01, 0.9, 1e-6, initial_scale=0.5),
        ),
        (
            jaxopt_lab.rmsprop(0.01, 0.95, 1e-7, centered=True, momentum=0.5),
            optax.rmsprop(0.01, 0.95, 1e-7, eps_in_sqrt=False, centered=True, momentum=0.5),
        ),
        (
            jaxopt_lab.adam(0.01, 0.8, 0.99, 1e-8, eps_root=1e-10, eps_hat=False),
            optax.adam(0.01, 0.8, 0.99, 1e-8, eps_root=1e-10),
        ),
        (
            jaxopt_lab.adamw(0.01, eps=1e-8, weight_decay=0.1, eps_hat=False),
            optax.adamw(0.01, eps=1e-8, weight_decay=0.1),
        ),
    ],
    ids=["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "rmsprop-centered", "adam", "adamw"],
)
def test_knobs_reproduce_optax_in_float64(lab, other, x64):
    # Same formula, different rounding order: float64 keeps them within 1e-12
    # after 200 steps over a tree with a NamedTuple and a None leaf.
    params = Layer(weight=jnp.linspace(-2.0, 2.0, 12).reshape(3, 4), bias=None)
    grads = gradient_sequence(params, 200)
    lab_params = run_lab(lab, params, grads)
    other_params = run_lab(other, params, grads)
    assert lab_params.bias is None
    assert normwise_error(lab_params.weight, other_params.weight) <= 1e-12


def test_drops_into_optax_chain():
    # Clipping at a bound no gradient reaches changes nothing: the chain equals
    # the optimizer alone, bit for bit.
    params = {"w": jnp.linspace(-1.0, 1.0, 6, dtype=jnp.float32)}
    grads = gradient_sequence(params, 20)
    chained = optax.chain(optax.clip_by_global_norm(1e9), jaxopt_lab.adam(0.01))
    np.testing.assert_array_equal(
        run_lab(chained, params, grads)["w"], run_lab(jaxopt_lab.adam(0.01), params, grads)["w"]
    )


@pytest.mark.parametrize("name", sorted(jaxopt_lab.OPTIMIZERS))
def test_odd_trees(name):
    optimizer = jaxopt_lab.OPTIMIZERS[name]()
    assert optimizer.update({}, optimizer.init({}), {})[0] == {}
    params = {
        "a": None,
        "b": [jnp.float32(1.5), jnp.zeros((0, 3), jnp.float32)],
        "c": (jnp.ones(2),),
    }
    state = optimizer.init(params)
    grads = {
        "a": None,
        "b": [jnp.float32(0.5), jnp.zeros((0, 3), jnp.float32)],
        "c": (jnp.ones(2),),
    }
    updates, _ = optimizer.update(grads, state, params)
    assert updates["a"] is None
    assert updates["b"][0].shape == () and updates["b"][1].shape == (0, 3)
    assert float(updates["b"][0]) < 0  # a positive gradient moves the param down


@pytest.mark.parametrize("name", sorted(jaxopt_lab.OPTIMIZERS))
def test_vmap_over_learning_rate_equals_python_loop(name):
    params = {"w": jnp.array([1.0, -2.0, 3.0], jnp.float32)}
    grads = gradient_sequence(params, 10)
    grads = [jax.tree.map(lambda g: jnp.asarray(g, jnp.float32), g) for g in grads]
    learning_rates = jnp.array([0.001, 0.01, 0.1], jnp.float32)

    def final_params(learning_rate):
        optimizer = jaxopt_lab.OPTIMIZERS[name](learning_rate)
        state = optimizer.init(params)
        current = params
        for g in grads:
            updates, state = optimizer.update(g, state, current)
            current = jaxopt_lab.apply_updates(current, updates)
        return current["w"]

    swept = jax.jit(jax.vmap(final_params))(learning_rates)
    looped = [jax.jit(final_params)(rate) for rate in learning_rates]
    # The batched program may fuse (and so round) differently from the single
    # one: allow 4 ulps of the params' scale, normwise, over the 10 steps.
    looped = np.stack(looped)
    scale = 4 * np.finfo(np.float32).eps * np.max(np.abs(looped))
    np.testing.assert_allclose(swept, looped, rtol=0, atol=scale)


def test_learning_rate_argument_does_not_recompile():
    traces = []

    @jax.jit
    def step(learning_rate, params, grads):
        traces.append(None)
        optimizer = jaxopt_lab.adam(learning_rate)
        updates, _ = optimizer.update(grads, optimizer.init(params), params)
        return jaxopt_lab.apply_updates(params, updates)

    params, grads = jnp.ones(3), jnp.ones(3)
    results = [step(rate, params, grads) for rate in (0.1, 0.2, 0.3)]
    assert len(traces) == 1
    # Adam's first step is lr * sign(g) (up to eps): the value did reach the program.
    np.testing.assert_allclose([float(r[0]) for r in results], [0.9, 0.8, 0.7], rtol=1e-5)


def test_schedule_is_called_with_the_step_count():
    schedule = optax.exponential_decay(0.1, transition_steps=1, decay_rate=0.5)
    params = jnp.zeros(2, jnp.float32)
    optimizer = jaxopt_lab.sgd(schedule)
    state = optimizer.init(params)
    steps = []
    for _ in range(4):
        updates, state = optimizer.update(jnp.ones(2, jnp.float32), state)
        steps.append(float(-updates[0]))
    np.testing.assert_allclose(steps, [0.1, 0.05, 0.025, 0.0125], rtol=1e-6)
    assert int(state.count) == 4


def test_step_count_saturates_instead_of_wrapping():
    optimizer = jaxopt_lab.adam(0.1)
    params = jnp.ones(2, jnp.float32)
    state = optimizer.init(params)._replace(count=jnp.int32(np.iinfo(np.int32).max - 1))
    for _ in range(3):
        updates, state = optimizer.update(jnp.ones(2, jnp.float32), state)
    assert int(state.count) == np.iinfo(np.int32).max
    assert np.all(np.isfinite(updates))


def test_state_dtype_keeps_moments_in_float32_for_bfloat16_params():
    params = {"w": jnp.ones(4, jnp.bfloat16)}
    optimizer = jaxopt_lab.adam(1e-3, state_dtype=jnp.float32)
    state = optimizer.init(params)
    assert state.first_moment["w"].dtype == jnp.float32
    updates, state = optimizer.update({"w": jnp.full(4, 1e-3, jnp.bfloat16)}, state, params)
    assert updates["w"].dtype == jnp.bfloat16
    assert state.second_moment["w"].dtype == jnp.float32
    # (1 - b2) * g**2 with g the bfloat16 value of 1e-3, computed in float32:
    # float32 keeps 7 digits of it, bfloat16 would keep 3.
    expected = 1e-3 * float(jnp.bfloat16(1e-3)) ** 2
    np.testing.assert_allclose(state.second_moment["w"], expected, rtol=1e-6)


@pytest.mark.parametrize(
    ("build", "argument", "shown"),
    [
        (lambda: jaxopt_lab.sgd(-0.1), "learning_rate", "-0.1"),
        (lambda: jaxopt_lab.sgd(float("nan")), "learning_rate", "nan"),
        (lambda: jaxopt_lab.momentum(0.1, momentum=1.0), "momentum", "1.0"),
        (lambda: jaxopt_lab.nesterov(0.1, momentum=-0.5), "momentum", "-0.5"),
        (lambda: jaxopt_lab.adagrad(eps=-1e-7), "eps", "-1e-07"),
        (lambda: jaxopt_lab.rmsprop(decay=1.5), "decay", "1.5"),
        (lambda: jaxopt_lab.rmsprop(momentum=1.0), "momentum", "1.0"),
        (lambda: jaxopt_lab.adam(b1=1.0), "b1", "1.0"),
        (lambda: jaxopt_lab.adam(b2=-0.1), "b2", "-0.1"),
        (lambda: jaxopt_lab.adamw(weight_decay=-1.0), "weight_decay", "-1.0"),
        (lambda: jaxopt_lab.adam(jnp.array([0.1, -0.2])), "learning_rate", "-0.2"),
    ],
)
def test_invalid_hyperparameters_name_argument_and_value(build, argument, shown):
    with pytest.raises(ValueError, match=argument) as error:
        build()
    assert shown in str(error.value)


def test_mismatched_grads_show_both_structures():
    optimizer = jaxopt_lab.adam()
    state = optimizer.init({"w": jnp.ones(2), "b": jnp.ones(1)})
    with pytest.raises(ValueError, match="tree structure") as error:
        optimizer.update({"w": jnp.ones(2)}, state)
    assert (
        "'b'" in str(error.value) and "grads:" in str(error.value) and "state:" in str(error.value)
    )


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_integer_and_boolean_leaves_name_their_path(name):
    optimizer = jaxopt_lab.OPTIMIZERS[name]()
    with pytest.raises(TypeError, match=r"params leaf at \['layers'\]\[1\]\['b'\] has dtype int32"):
        optimizer.init({"layers": [{"b": jnp.ones(2)}, {"b": jnp.ones(2, jnp.int32)}]})
    state = optimizer.init({"flag": jnp.ones(2)})
    with pytest.raises(TypeError, match=r"grads leaf at \['flag'\] has dtype bool"):
        optimizer.update({"flag": jnp.ones(2, bool)}, state)


def test_adamw_needs_params():
    optimizer = jaxopt_lab.adamw()
    state = optimizer.init(jnp.ones(2))
    with pytest.raises(ValueError, match="pass params"):
        optimizer.update(jnp.ones(2), state)


def test_every_optimizer_declares_its_sweepable_hyperparameters():
    for name, make in OPTIMIZERS.items():
        declared = make.hyperparameters
        parameters = inspect.signature(make).parameters
        assert declared and set(declared) <= set(parameters), name
        assert "learning_rate" in declared, name
        # Switches and dtypes are not sweepable numbers.
        for switch in ("eps_hat", "eps_in_sqrt", "centered", "state_dtype"):
            assert switch not in declared, (name, switch)


def test_declaring_an_unknown_hyperparameter_is_refused():
    with pytest.raises(TypeError, match="has no argument 'beta'"):

        @hyperparameters("learning_rate", "beta")
        def made_up(learning_rate=0.1):
            return sgd(learning_rate)
