"""``bias_correction="float32"``: Adam's 1 - b**t taken as optax and Keras take it."""

from __future__ import annotations

import functools
import operator
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_lab
from jaxopt_lab import crosscheck
from jaxopt_lab.equivalences.check import table_gradients, table_params
from jaxopt_lab.optimizers.adam import AdamState
from jaxopt_lab.optimizers.plumbing import bias_corrections

STEPS = 1000


def _corrections(form: str, b1: float, b2: float) -> tuple[np.ndarray, np.ndarray]:
    counts = jnp.arange(STEPS, dtype=jnp.int32)
    state = AdamState(counts, None, None)
    return tuple(np.asarray(c) for c in bias_corrections(state, b1, b2, jnp.float32, form))


@pytest.mark.parametrize("b1, b2", [(0.9, 0.999), (0.8, 0.99), (0.95, 0.9999)])
def test_float32_corrections_are_optax_bit_for_bit(b1, b2):
    # optax.tree.bias_correction: 1 - decay**count, count the int32 1-based step.
    count = jnp.arange(1, STEPS + 1, dtype=jnp.int32)
    optax_first, optax_second = (np.asarray(1 - b**count) for b in (b1, b2))
    first, second = _corrections("float32", b1, b2)
    np.testing.assert_array_equal(first, optax_first)
    np.testing.assert_array_equal(second, optax_second)
    # The accurate form is not optax's: 0.999 rounded to float32 moves 1 - b2 by 1.3e-5.
    _, accurate_second = _corrections("accurate", b1, b2)
    assert not np.array_equal(accurate_second, optax_second)


@pytest.mark.parametrize("b1, b2", [(0.9, 0.999), (0.8, 0.99)])
def test_float32_corrections_are_keras_bit_for_bit(b1, b2):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = crosscheck.import_keras()
    ops = keras.ops
    # Keras's Adam.update_step: ops.power(cast(beta, dtype), cast(iterations + 1, dtype)).
    step = ops.cast(ops.arange(STEPS) + 1, "float32")
    keras_first = np.asarray(1 - ops.power(ops.cast(b1, "float32"), step))
    keras_second = np.asarray(1 - ops.power(ops.cast(b2, "float32"), step))
    first, second = _corrections("float32", b1, b2)
    np.testing.assert_array_equal(first, keras_first)
    np.testing.assert_array_equal(second, keras_second)


def _params(leaves=("w", "b")):
    rng = np.random.default_rng(0)
    shapes = {"w": (16, 8), "b": (16,)}
    return {name: rng.standard_normal(shapes[name]) for name in leaves}


def _mlp_params() -> dict:
    """A two-layer MLP's weights and biases: four leaves of four shapes."""
    rng = np.random.default_rng(0)
    return {
        f"dense{layer}": {
            "w": rng.standard_normal((fan_in, fan_out)),
            "b": rng.standard_normal(fan_out),
        }
        for layer, (fan_in, fan_out) in enumerate([(32, 16), (16, 10)], start=1)
    }


def _optax_form(**settings):
    return jaxopt_lab.adam(
        **settings, eps_hat=False, bias_correction="float32", moment_form="weighted_sum"
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize(
    "settings",
    [
        {"learning_rate": 1e-2, "eps": 1e-8},
        {"learning_rate": 3e-3, "b1": 0.8, "b2": 0.99, "eps": 1e-6, "eps_root": 1e-10},
    ],
    ids=["defaults", "non-default"],
)
@pytest.mark.parametrize("tree", ["one leaf", "mlp"])
def test_adam_is_optax_adam_bit_for_bit(settings, dtype, tree):
    params = _params(("w",)) if tree == "one leaf" else _mlp_params()
    gradients = crosscheck.random_gradients(params, STEPS, seed=1)
    optax_settings = dict(settings)
    result = crosscheck.compare(
        _optax_form(**settings), optax.adam(**optax_settings), params, gradients, dtype=dtype
    )
    assert result.max_ulp_distance.max() == 0
    # Without the knobs: the accurate correction and the lerp form part from optax.
    result = crosscheck.compare(
        jaxopt_lab.adam(**settings, eps_hat=False),
        optax.adam(**optax_settings),
        params,
        gradients,
        dtype=dtype,
    )
    assert result.max_ulp_distance.max() > 0


def _steps_as_a_user_writes_them(optimizer, params, gradients, *, jit: bool) -> list:
    """Every step's params: ``update`` then ``optax.apply_updates``, jitted as one step or
    run op by op."""

    def step(params, state, grads):
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    step = jax.jit(step) if jit else step
    state, history = optimizer.init(params), []
    for index in range(STEPS):
        params, state = step(params, state, jax.tree.map(operator.itemgetter(index), gradients))
        history.append(params)
    return history


@pytest.mark.parametrize(
    "jit", [True, pytest.param(False, marks=pytest.mark.slow)], ids=["jitted", "eager"]
)
def test_adam_is_optax_adam_bit_for_bit_on_an_mlp_step_by_step(jit):
    # The step as a user writes it, on an MLP's four leaves, 1000 float32 steps. XLA compiles
    # m / c, for a scalar c that one division reads, as m * (1 / c), and keeps the division
    # where several leaves divide by one c (optax's tree-wide bias correction): the lab divides
    # the whole tree in one optax.tree.bias_correction call so that both compile alike.
    params = jax.tree.map(lambda p: jnp.asarray(p, jnp.float32), _mlp_params())
    gradients = jax.tree.map(
        lambda g: jnp.asarray(g, jnp.float32), crosscheck.random_gradients(params, STEPS, seed=1)
    )
    lab = _steps_as_a_user_writes_them(
        _optax_form(learning_rate=1e-2, eps=1e-8), params, gradients, jit=jit
    )
    reference = _steps_as_a_user_writes_them(optax.adam(1e-2), params, gradients, jit=jit)
    for step, (ours, theirs) in enumerate(zip(lab, reference, strict=True), start=1):
        for leaf, (a, b) in enumerate(zip(jax.tree.leaves(ours), jax.tree.leaves(theirs))):
            assert np.array_equal(np.asarray(a), np.asarray(b)), f"step {step}, leaf {leaf}"


def test_optax_itself_changes_with_the_tree_and_the_lab_follows_it():
    # optax's own update of a leaf depends on the other leaves of the tree (XLA keeps its
    # division by 1 - b**t a division only where several leaves share it): a bias alone and
    # in a tree move differently under optax, and the lab takes each path as optax does.
    params = _params()
    gradients = crosscheck.random_gradients(params, STEPS, seed=1)
    alone_params, alone_gradients = {"b": params["b"]}, {"b": gradients["b"]}
    alone = crosscheck.trajectory(optax.adam(1e-2), alone_params, alone_gradients, dtype=np.float32)
    in_tree = crosscheck.trajectory(optax.adam(1e-2), params, gradients, dtype=np.float32)
    assert not np.array_equal(alone.leaves[0], in_tree.leaves[0])  # leaves sort as b, w
    lab = _optax_form(learning_rate=1e-2, eps=1e-8)
    for tree_params, tree_gradients, expected in [
        (alone_params, alone_gradients, alone),
        (params, gradients, in_tree),
    ]:
        ours = crosscheck.trajectory(lab, tree_params, tree_gradients, dtype=np.float32)
        for a, b in zip(ours.leaves, expected.leaves, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128], ids=["complex64", "complex128"])
def test_adam_is_optax_adam_bit_for_bit_on_complex_params(dtype):
    # optax keeps a complex param's second moment complex and takes its square root and the
    # division by it in complex arithmetic; with the knobs the lab does too (a real second
    # moment, the lab's default, is 0.59 ulps of the leaf's scale away after 1000 steps).
    params = table_params(complex_params=True)
    gradients = table_gradients(STEPS, complex_params=True)
    assert jnp.iscomplexobj(_optax_form(learning_rate=1e-3).init(params).second_moment["w"])
    result = crosscheck.compare(
        _optax_form(learning_rate=1e-3, eps=1e-8), optax.adam(1e-3), params, gradients, dtype=dtype
    )
    assert result.max_ulp_distance.max() == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize(
    "lab_settings, keras_settings",
    [
        ({"learning_rate": 1e-2}, {"learning_rate": 1e-2}),
        (
            {"learning_rate": 1e-3, "b1": 0.8, "b2": 0.99, "eps": 1e-6},
            {"learning_rate": 1e-3, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6},
        ),
    ],
    ids=["lr 1e-2", "non-default"],
)
@pytest.mark.parametrize("tree", ["two leaves", "mlp"])
def test_adam_is_keras_adam_bit_for_bit(lab_settings, keras_settings, dtype, tree):
    keras = crosscheck.import_keras()
    params = _params() if tree == "two leaves" else _mlp_params()
    gradients = crosscheck.random_gradients(params, STEPS, seed=1)
    # Keras keeps the learning rate in a float32 variable: the lab gets that value.
    lab_settings = {
        **lab_settings,
        "learning_rate": float(np.float32(lab_settings["learning_rate"])),
    }
    result = crosscheck.compare(
        jaxopt_lab.adam(**lab_settings, bias_correction="float32"),
        keras.optimizers.Adam(**keras_settings),
        params,
        gradients,
        dtype=dtype,
    )
    assert result.max_ulp_distance.max() == 0
    result = crosscheck.compare(
        jaxopt_lab.adam(**lab_settings),
        keras.optimizers.Adam(**keras_settings),
        params,
        gradients,
        dtype=np.float32,
    )
    # The accurate correction parts from Keras: 26 ulps of the leaf's scale at lr 1e-2, but
    # 0.86 at lr 1e-3, where the small step hides a 1e-5 relative difference in it.
    assert result.max_ulp_distance.max() > 0


def test_float64_run_keeps_float64():
    # In a float64 run the "float32" form takes 1 - b**t in float64 (optax's arithmetic
    # under jax_enable_x64): the corrections are then within 1e-15 of the accurate ones.
    with jax.enable_x64(True):
        state = AdamState(jnp.arange(STEPS, dtype=jnp.int32), None, None)
        rounded = bias_corrections(state, 0.9, 0.999, jnp.float64, "float32")
        accurate = bias_corrections(state, 0.9, 0.999, jnp.float64, "accurate")
        assert rounded[1].dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(rounded[1]), np.asarray(accurate[1]), rtol=1e-12)


def test_bad_knobs_name_the_argument():
    with pytest.raises(ValueError, match="bias_correction"):
        jaxopt_lab.adam(bias_correction="float16")
    with pytest.raises(ValueError, match="moment_form"):
        jaxopt_lab.adam(moment_form="sum")


@pytest.mark.parametrize(
    "lab, library, accurate_at_least, rounded_at_most",
    [
        # optax's rho_t comes from its float32 1 - b2**t (rho_6 off by 0.03 for 0.999):
        # 9.0 ulps of the leaf's scale after 1000 steps, 0.86 with optax's rounding.
        (jaxopt_lab.radam, optax.radam(1e-3), 4.0, 1.5),
        (functools.partial(jaxopt_lab.amsgrad, max_of="corrected"), optax.amsgrad(1e-3), 2.0, 1.5),
    ],
    ids=["radam", "amsgrad"],
)
def test_the_knob_reaches_the_rest_of_the_adam_family(
    lab, library, accurate_at_least, rounded_at_most
):
    params = _params()
    gradients = crosscheck.random_gradients(params, STEPS, seed=1)
    worst = {}
    for form in ("accurate", "float32"):
        result = crosscheck.compare(
            lab(1e-3, bias_correction=form), library, params, gradients, dtype=np.float32
        )
        worst[form] = float(result.max_scaled_ulps.max())
    assert worst["accurate"] >= accurate_at_least
    assert worst["float32"] <= rounded_at_most
