"""The shared plumbing: sharding, the optax protocol, complex params, conventions, validation."""

from __future__ import annotations

import inspect
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_lab
from jaxopt_lab.optimizers import OPTIMIZERS

NAMES = sorted(OPTIMIZERS)
# Rules that are not defined on complex numbers (a sign, a comparison of gradients).
REAL_ONLY = {"rprop"}
# Optimizers without weight decay (Rprop's step uses only the gradient's sign).
NO_DECAY = {"rprop"}


def decayed(name, weight_decay=0.01):
    """``name``'s settings with a weight decay, where it takes one."""
    return {} if name in NO_DECAY else {"weight_decay": weight_decay}


def takes(name, argument):
    return argument in inspect.signature(OPTIMIZERS[name]).parameters


# adafactor, lion, lamb, muon and schedule_free_adamw decay the weights by their own
# formulas (decoupled in every library that has them) and take neither
# decoupled_weight_decay nor complex_convention (complex params: the optax
# convention): the convention tests cover the optimizers that take the knobs.
DECAY_CONVENTION = sorted(name for name in NAMES if takes(name, "decoupled_weight_decay"))
COMPLEX_CONVENTION = sorted(name for name in NAMES if takes(name, "complex_convention"))


def run(optimizer, params, gradient_sequence):
    """Step ``optimizer`` over a list of gradient trees (jitted); return the final params."""

    @jax.jit
    def step(params, state, grads):
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    state = optimizer.init(params)
    for grads in gradient_sequence:
        params, state = step(params, state, grads)
    return params


def gradients(params, steps, seed=1, scale=1.0):
    rng = np.random.default_rng(seed)

    def draw(leaf):
        shape = np.shape(leaf)
        if np.iscomplexobj(leaf):
            value = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
        else:
            value = rng.standard_normal(shape)
        return jnp.asarray(scale * value, jnp.result_type(leaf))

    return [jax.tree.map(draw, params) for _ in range(steps)]


# --------------------------------------------------------------------------- sharding

SHARDING_SCRIPT = textwrap.dedent(
    """
    import json
    import jax, jax.numpy as jnp, numpy as np, optax
    from jax.sharding import AxisType, NamedSharding, PartitionSpec as P
    import jaxopt_lab

    report = {"devices": jax.device_count(), "optimizers": {}}
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((8, 4)).astype(np.float32)
    b0 = rng.standard_normal(4).astype(np.float32)

    def loop(optimizer, params, steps=5):
        # A training loop on f(p) = sum(p**2) / 2 (gradient p), jitted, fori_loop.
        def body(_, carry):
            params, state = carry
            updates, state = optimizer.update(params, state, params)
            return optax.apply_updates(params, updates), state
        return jax.jit(
            lambda params: jax.lax.fori_loop(0, steps, body, (params, optimizer.init(params)))
        )(params)

    def scan_loop(optimizer, params, state, steps=5):
        def body(carry, _):
            params, state = carry
            updates, state = optimizer.update(params, state, params)
            return (optax.apply_updates(params, updates), state), None
        return jax.jit(lambda carry: jax.lax.scan(body, carry, length=steps)[0])((params, state))

    def moment_pairs(state, params):
        # (state array, its param) for every array field of the state shaped like
        # its param (Adafactor's factored moments, per-leaf scalars are not)
        for field in state._fields[1:]:
            tree = getattr(state, field)
            if tree is None or field == "structure":
                continue
            for key in params:
                if tree[key].shape == params[key].shape:  # not a per-leaf scalar (NAdam)
                    yield tree[key], params[key]

    for name, make in sorted(jaxopt_lab.OPTIMIZERS.items()):
        optimizer = make(**({} if name == "rprop" else {"weight_decay": 0.01}))
        unsharded = loop(optimizer, {"w": jnp.asarray(w0), "b": jnp.asarray(b0)})[0]
        case = {}
        auto = jax.make_mesh((4,), ("x",), axis_types=(AxisType.Auto,))
        params = {
            "w": jax.device_put(w0, NamedSharding(auto, P("x"))),
            "b": jax.device_put(b0, NamedSharding(auto, P())),
        }
        for how, init in (("eager", optimizer.init), ("jit", jax.jit(optimizer.init))):
            state = init(params)
            case[f"auto_{how}_same_sharding"] = all(
                moment.sharding.is_equivalent_to(param.sharding, param.ndim)
                for moment, param in moment_pairs(state, params)
            )
        params_after, state_after = scan_loop(optimizer, params, jax.jit(optimizer.init)(params))
        case["auto_scan_same_sharding"] = all(
            moment.sharding.is_equivalent_to(param.sharding, param.ndim)
            for moment, param in moment_pairs(state_after, params)
        ) and params_after["w"].sharding.is_equivalent_to(params["w"].sharding, 2)
        case["auto_scan_error"] = float(np.max(np.abs(
            np.asarray(params_after["w"]) - np.asarray(unsharded["w"])
        )))
        explicit = jax.make_mesh((4,), ("x",), axis_types=(AxisType.Explicit,))
        with jax.set_mesh(explicit):
            params = {
                "w": jax.device_put(w0, NamedSharding(explicit, P("x"))),
                "b": jax.device_put(b0, NamedSharding(explicit, P())),
            }
            types = lambda tree: str(jax.tree.map(jax.typeof, tree))
            eager, jitted = optimizer.init(params), jax.jit(optimizer.init)(params)
            _, updated = jax.jit(optimizer.update)(params, eager, params)
            case["explicit_types_equal"] = types(eager) == types(jitted) == types(updated)
            try:
                final = loop(optimizer, params)[0]
                case["explicit_loop_error"] = float(np.max(np.abs(
                    np.asarray(final["w"]) - np.asarray(unsharded["w"])
                )))
                case["explicit_loop_sharded"] = str(jax.typeof(final["w"]))
            except Exception as error:  # reported, and the test fails on it
                case["explicit_loop_failure"] = f"{type(error).__name__}: {error}"[:300]
        report["optimizers"][name] = case
    print(json.dumps(report))
    """
)


@pytest.mark.slow
def test_state_keeps_the_params_sharding_on_four_devices(forced_cpu_devices):
    # Before: moments were built with jnp.full(shape): on an Auto mesh the whole
    # state landed on device 0, and a jitted fori_loop over an Explicit mesh
    # failed ("carry input and carry output must have equal types").
    report = forced_cpu_devices.run(SHARDING_SCRIPT)
    assert report["devices"] == 4
    assert set(report["optimizers"]) == set(OPTIMIZERS)
    for name, case in report["optimizers"].items():
        assert "explicit_loop_failure" not in case, (name, case)
        for key in (
            "auto_eager_same_sharding",
            "auto_jit_same_sharding",
            "auto_scan_same_sharding",
            "explicit_types_equal",
        ):
            assert case[key], (name, key)
        assert case["explicit_loop_sharded"] == "float32[8@x,4]", name
        # The same elementwise float32 program on slices: a few ulps at most.
        assert case["explicit_loop_error"] <= 1e-5, name
        assert case["auto_scan_error"] <= 1e-5, name


def test_init_accepts_abstract_params():
    for name in NAMES:
        state = jax.eval_shape(OPTIMIZERS[name]().init, jax.ShapeDtypeStruct((2, 3), jnp.float32))
        assert state is not None, name


# --------------------------------------------------------------------------- protocol


@pytest.mark.parametrize("name", NAMES)
def test_update_takes_optax_extra_args(name):
    # optax's aliases are GradientTransformationExtraArgs; combinators and user
    # loops pass keyword arguments (value=, grad=, value_fn=) that others ignore.
    optimizer = OPTIMIZERS[name]()
    assert isinstance(optimizer, optax.GradientTransformationExtraArgs)
    params = {"w": jnp.linspace(-1.0, 1.0, 6)}
    grads = {"w": jnp.linspace(0.5, -0.5, 6)}
    state = optimizer.init(params)
    plain, _ = optimizer.update(grads, state, params)
    extra, _ = optimizer.update(grads, state, params, value=1.5, grad=grads, value_fn=len)
    np.testing.assert_array_equal(extra["w"], plain["w"])
    chained = optax.chain(optax.scale(1.0), optimizer)
    updates, _ = chained.update(grads, chained.init(params), params, value=1.5)
    np.testing.assert_array_equal(updates["w"], plain["w"])


@pytest.mark.parametrize("name", NAMES)
def test_a_python_int_count_works(name):
    # torch's load_state_dict tests hand the optimizer a state whose step is a
    # Python int; before, Adam and AdamW crashed (int has no attribute astype).
    optimizer = OPTIMIZERS[name]()
    params = {"w": jnp.linspace(-1.0, 1.0, 6, dtype=jnp.float32)}
    grads = {"w": jnp.linspace(0.5, -0.5, 6, dtype=jnp.float32)}
    state = optimizer.init(params)
    with_array, state_array = optimizer.update(grads, state._replace(count=jnp.int32(7)), params)
    with_int, state_int = optimizer.update(grads, state._replace(count=7), params)
    np.testing.assert_array_equal(with_int["w"], with_array["w"])
    assert state_int.count.dtype == jnp.int32 and int(state_int.count) == 8
    # A count beyond int32 saturates instead of overflowing.
    _, saturated = optimizer.update(grads, state._replace(count=2**40), params)
    assert int(saturated.count) == np.iinfo(np.int32).max


# --------------------------------------------------------------------------- conventions


@pytest.mark.parametrize("name", NAMES)
def test_maximize_is_descent_on_the_negated_gradient(name):
    make = OPTIMIZERS[name]
    params = {"w": jnp.linspace(-1.0, 1.0, 6, dtype=jnp.float32)}
    grads = gradients(params, 5)
    negated = [jax.tree.map(jnp.negative, g) for g in grads]
    np.testing.assert_array_equal(
        run(make(maximize=True), params, grads)["w"], run(make(), params, negated)["w"]
    )


@pytest.mark.parametrize("name", DECAY_CONVENTION)
def test_coupled_weight_decay_is_l2_on_the_gradient(name, x64):
    # torch's weight_decay= on SGD, Adam, RMSprop, Adagrad, ...: g + wd * p enters
    # the moments; optax spells it add_decayed_weights *before* the optimizer.
    make = OPTIMIZERS[name]
    params = {"w": jnp.linspace(-1.0, 1.0, 6)}
    grads = gradients(params, 20)
    lab = run(make(weight_decay=0.1), params, grads)["w"]
    other = run(optax.chain(optax.add_decayed_weights(0.1), make()), params, grads)["w"]
    np.testing.assert_allclose(lab, other, rtol=1e-12, atol=0)
    assert not np.allclose(lab, run(make(), params, grads)["w"], rtol=1e-6)


@pytest.mark.parametrize("name", sorted(set(DECAY_CONVENTION) | ({"adamw", "nadamw"} & set(NAMES))))
def test_decoupled_weight_decay_is_lr_times_decay_outside_the_moments(name, x64):
    # Decoupled (AdamW's, Keras's): update - lr_t * wd * p, with lr_t this step's
    # learning rate (a schedule here); the rule's moments never see it.
    make = OPTIMIZERS[name]
    schedule = optax.exponential_decay(0.05, transition_steps=1, decay_rate=0.9)
    params = {"w": jnp.linspace(-1.0, 1.0, 6)}
    grads = gradients(params, 20)
    if name in ("adamw", "nadamw"):
        lab = make(schedule, weight_decay=0.1)
        plain = make(schedule, weight_decay=0.0)
    else:
        lab = make(schedule, weight_decay=0.1, decoupled_weight_decay=True)
        plain = make(schedule)
    # u = plain(g) + (-lr_t) * wd * p, the decay computed from the params alone.
    decay = optax.chain(
        optax.add_decayed_weights(0.1), optax.scale_by_schedule(lambda count: -schedule(count))
    )
    other = _sum_of(plain, decay, ignore_grads_for_second=True)
    np.testing.assert_allclose(
        run(lab, params, grads)["w"], run(other, params, grads)["w"], rtol=1e-12, atol=0
    )


def _sum_of(first, second, *, ignore_grads_for_second=False):
    """A transformation whose update is ``first``'s plus ``second``'s (on zero grads if asked)."""

    def init(params):
        return first.init(params), second.init(params)

    def update(grads, state, params=None):
        updates_first, state_first = first.update(grads, state[0], params)
        second_grads = jax.tree.map(jnp.zeros_like, grads) if ignore_grads_for_second else grads
        updates_second, state_second = second.update(second_grads, state[1], params)
        return jax.tree.map(jnp.add, updates_first, updates_second), (state_first, state_second)

    return optax.GradientTransformation(init, update)


# --------------------------------------------------------------------------- complex params


@pytest.mark.parametrize("name", sorted(set(NAMES) - REAL_ONLY))
def test_optax_convention_on_real_numbers_held_as_complex_is_the_real_run(name):
    # The optax convention is complex arithmetic with |g|² = conj(g)·g: on
    # numbers whose imaginary part is 0 it must be the real optimizer.
    make = OPTIMIZERS[name]
    real = {"w": jnp.linspace(-1.0, 1.0, 6, dtype=jnp.float32)}
    grads = gradients(real, 10)
    as_complex = jax.tree.map(lambda x: x.astype(jnp.complex64), real)
    complex_grads = [jax.tree.map(lambda x: x.astype(jnp.complex64), g) for g in grads]
    got = run(make(), as_complex, complex_grads)["w"]
    assert got.dtype == jnp.complex64
    np.testing.assert_array_equal(np.asarray(got).imag, 0)
    # Equal up to XLA's contraction of the real program (p - lr·g as one fused
    # multiply-add, which a complex multiply cannot be): 2 ulps of the scale.
    want = run(make(), real, grads)["w"]
    scale = 2 * np.finfo(np.float32).eps * np.max(np.abs(want))
    np.testing.assert_allclose(np.asarray(got).real, want, rtol=0, atol=scale)


@pytest.mark.parametrize("name", sorted(set(NAMES) - REAL_ONLY))
def test_optax_convention_commutes_with_a_phase(name, x64):
    # |e^{iθ} g|² = |g|²: rotating params and gradients by one phase rotates the
    # whole trajectory (torch's convention, per component, does not).
    make = OPTIMIZERS[name]
    rng = np.random.default_rng(0)
    params = {"w": jnp.asarray(rng.standard_normal(6) + 1j * rng.standard_normal(6))}
    grads = gradients(params, 20)
    phase = np.exp(0.7j)
    rotated = run(
        make(),
        jax.tree.map(lambda x: phase * x, params),
        [jax.tree.map(lambda g: phase * g, g) for g in grads],
    )["w"]
    np.testing.assert_allclose(rotated, phase * run(make(), params, grads)["w"], rtol=1e-12)
    if not takes(name, "complex_convention"):
        return
    torch_style = run(
        make(complex_convention="torch"),
        jax.tree.map(lambda x: phase * x, params),
        [jax.tree.map(lambda g: phase * g, g) for g in grads],
    )["w"]
    if name not in ("sgd", "momentum", "nesterov"):  # linear rules commute either way
        assert not np.allclose(torch_style, rotated, rtol=1e-6)


@pytest.mark.parametrize("name", COMPLEX_CONVENTION)
def test_torch_convention_is_the_real_pairs_run(name):
    # torch.view_as_real: each complex number is two reals, bit for bit.
    make = OPTIMIZERS[name]
    rng = np.random.default_rng(0)
    pairs = {"w": jnp.asarray(rng.standard_normal((3, 2)), jnp.float32)}
    grads = gradients(pairs, 10)
    to_complex = lambda x: jax.lax.complex(x[..., 0], x[..., 1])
    got = run(
        make(**decayed(name), complex_convention="torch"),
        jax.tree.map(to_complex, pairs),
        [jax.tree.map(to_complex, g) for g in grads],
    )["w"]
    want = run(make(**decayed(name)), pairs, grads)["w"]
    assert got.dtype == jnp.complex64
    np.testing.assert_array_equal(np.asarray(got).real, want[..., 0])
    np.testing.assert_array_equal(np.asarray(got).imag, want[..., 1])


def test_complex_adam_matches_optax_and_torch_in_their_conventions(x64):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    start = rng.standard_normal(5) + 1j * rng.standard_normal(5)
    grads = gradients({"w": jnp.asarray(start)}, 50)
    lab = run(jaxopt_lab.adam(0.01, eps=1e-8, eps_hat=False), {"w": jnp.asarray(start)}, grads)
    other = run(optax.adam(0.01), {"w": jnp.asarray(start)}, grads)
    np.testing.assert_allclose(lab["w"], other["w"], rtol=1e-12)

    tensor = torch.tensor(start.copy())
    torch_adam = torch.optim.Adam([tensor], lr=0.01)
    for g in grads:
        tensor.grad = torch.tensor(np.asarray(g["w"]))
        torch_adam.step()
    lab = run(
        jaxopt_lab.adam(0.01, eps=1e-8, eps_hat=False, complex_convention="torch"),
        {"w": jnp.asarray(start)},
        grads,
    )
    np.testing.assert_allclose(lab["w"], tensor.detach().numpy(), rtol=1e-12)
    assert not np.allclose(lab["w"], other["w"], rtol=1e-6)  # the conventions differ


def test_complex_state_fields_are_real_where_they_hold_squares():
    state = jaxopt_lab.adam().init({"w": jnp.ones(3, jnp.complex64)})
    assert state.first_moment["w"].dtype == jnp.complex64
    assert state.second_moment["w"].dtype == jnp.float32
    state = jaxopt_lab.adam(complex_convention="torch").init({"w": jnp.ones(3, jnp.complex64)})
    assert state.second_moment["w"].dtype == jnp.complex64  # torch keeps it like the param


# --------------------------------------------------------------------------- validation

BAD_NUMBERS = [
    (float("inf"), "must be finite"),
    (float("-inf"), "must be finite"),
    (float("nan"), "must be finite"),
    ("0.1", "must be a real number"),
    (b"0.1", "must be a real number"),
    (True, "must be a real number"),
    (1 + 2j, "must be a real number"),
    (np.array([0.1, 0.2]), "must be a scalar"),
    (jnp.array([0.1]), "must be a scalar"),
    ([0.1, 0.2], "must be a scalar"),
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("value", "message"), BAD_NUMBERS, ids=lambda v: repr(v)[:20])
def test_every_hyperparameter_refuses_what_is_not_a_finite_real_scalar(name, value, message):
    make = OPTIMIZERS[name]
    for argument in make.hyperparameters:
        with pytest.raises(ValueError, match=argument) as error:
            make(**{argument: value})
        assert message in str(error.value), (argument, str(error.value))


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (lambda count: "fast", "must be a real number"),
        (lambda count: None, "must be a real number"),
        (lambda count: jnp.ones(2), "must be a scalar"),
        (lambda count: float("nan"), "must be finite"),
        (lambda: 0.1, "calling it with count 0 raised TypeError"),
    ],
)
def test_a_schedule_is_called_once_at_build_time(schedule, message):
    with pytest.raises(ValueError, match="learning_rate") as error:
        jaxopt_lab.adam(schedule)
    assert message in str(error.value)
    with pytest.raises(ValueError, match="b1 must be a number, got the function"):
        jaxopt_lab.adam(b1=lambda count: 0.9)  # b1 is not a ScalarOrSchedule


@pytest.mark.parametrize("value", [1e39, 3.5e38, 1e308])
def test_a_value_that_overflows_the_working_dtype_is_refused_at_init(value, x64):
    optimizer = jaxopt_lab.adam(value)  # finite in float64: accepted when built
    with pytest.raises(ValueError, match=r"learning_rate=.* is not finite in float32.*\['w'\]"):
        optimizer.init({"w": jnp.ones(2, jnp.float32)})
    optimizer.init({"w": jnp.ones(2, jnp.float64)})  # finite in float64
    with pytest.raises(ValueError, match="weight_decay=.* is not finite in float32"):
        jaxopt_lab.sgd(weight_decay=value).init({"w": jnp.ones(2, jnp.float32)})
    with pytest.raises(ValueError, match="is not finite in bfloat16"):
        jaxopt_lab.momentum(value).init({"w": jnp.ones(2, jnp.bfloat16)})
    with pytest.raises(ValueError, match="not finite in float32"):  # state_dtype is the working one
        jaxopt_lab.adam(value, state_dtype=jnp.float32).init({"w": jnp.ones(2, jnp.float64)})
    with pytest.raises(ValueError, match="not finite in float32"):  # complex64: float32 parts
        jaxopt_lab.adam(value).init({"w": jnp.ones(2, jnp.complex64)})


def test_stateless_sgd_checks_grads_against_the_params_tree():
    # Before: SGD had no moment to check against, so grads of another tree
    # passed silently when update got no params.
    optimizer = jaxopt_lab.sgd()
    state = optimizer.init({"w": jnp.ones(2), "b": jnp.ones(1)})
    with pytest.raises(ValueError, match="tree structure") as error:
        optimizer.update({"w": jnp.ones(2)}, state)
    assert "'b'" in str(error.value)
    with pytest.raises(ValueError, match="tree structure"):
        optimizer.update({"w": jnp.ones(2), "b": None}, state)
    updates, _ = optimizer.update({"w": jnp.ones(2), "b": jnp.ones(1)}, state)
    np.testing.assert_allclose(updates["w"], -0.01)


def test_sgd_state_holds_the_structure_as_one_static_node():
    """Not a node per array: jit would rebuild each of them on every step (SGD on 1,000 leaves
    measured 1.12x optax that way, 1.00x with one static node; benchmarks/update)."""
    params = {f"w{i}": jnp.ones(2) for i in range(50)}
    state = jaxopt_lab.sgd().init(params)
    assert jax.tree.structure(state).num_nodes == 3  # SgdState, count, structure
    assert jax.tree.leaves(state) == [state.count]
    step = jax.jit(lambda grads, state: jaxopt_lab.sgd().update(grads, state))
    _, new_state = step(params, state)
    assert new_state.structure == state.structure  # static: the same aux data out as in


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: jaxopt_lab.adam(eps=0.0), "eps"),
        (lambda: jaxopt_lab.adamw(eps=0.0), "eps"),
        (lambda: jaxopt_lab.adagrad(eps=0.0), "eps"),
        (lambda: jaxopt_lab.rmsprop(eps=0.0), "eps"),
        (lambda: jaxopt_lab.rmsprop(eps=0.0, initial_scale=1.0, centered=True), "eps"),
    ],
)
def test_eps_zero_is_refused_where_the_denominator_can_be_zero(build, argument):
    with pytest.raises(ValueError, match=f"{argument} must be > 0.*0/0"):
        build()


@pytest.mark.parametrize(
    "optimizer",
    [
        jaxopt_lab.adam(eps=0.0, eps_root=1e-12),
        jaxopt_lab.adagrad(eps=0.0, initial_accumulator_value=0.1),
        jaxopt_lab.rmsprop(eps=0.0, initial_scale=1.0),
    ],
    ids=["adam-eps_root", "adagrad-initial", "rmsprop-initial"],
)
def test_eps_zero_is_allowed_where_something_else_keeps_the_denominator_positive(optimizer):
    params = {"w": jnp.ones(3, jnp.float32)}
    updates, _ = optimizer.update({"w": jnp.zeros(3, jnp.float32)}, optimizer.init(params), params)
    np.testing.assert_array_equal(updates["w"], 0.0)


def test_switches_and_conventions_are_checked():
    with pytest.raises(TypeError, match="maximize must be True or False, got 'yes'"):
        jaxopt_lab.adam(maximize="yes")
    with pytest.raises(TypeError, match="decoupled_weight_decay must be True or False"):
        jaxopt_lab.sgd(decoupled_weight_decay=1)
    with pytest.raises(ValueError, match="complex_convention must be one of"):
        jaxopt_lab.adam(complex_convention="numpy")
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        jaxopt_lab.rmsprop(weight_decay=-0.1)


def test_weight_decay_needs_params_only_when_it_is_not_zero():
    optimizer = jaxopt_lab.adam(weight_decay=0.1)
    state = optimizer.init(jnp.ones(2))
    with pytest.raises(ValueError, match="pass params"):
        optimizer.update(jnp.ones(2), state)
    plain = jaxopt_lab.adam()
    plain.update(jnp.ones(2), plain.init(jnp.ones(2)))  # no decay: no params needed


def test_traced_hyperparameters_are_checked_for_shape_only():
    params = jnp.ones(2)

    @jax.jit
    def first_update(learning_rate):
        optimizer = jaxopt_lab.adam(learning_rate)
        return optimizer.update(params, optimizer.init(params))[0]

    np.testing.assert_allclose(first_update(0.1), -0.1, rtol=1e-5)
    with pytest.raises(ValueError, match="learning_rate must be a scalar, got a traced array"):
        first_update(jnp.array([0.1, 0.2]))


def test_bias_corrections_are_accurate_in_float32():
    # 1 - b2**t in float32 from b2 rounded to float32 (optax's and Keras's way) is
    # off by 1.3e-5 for b2 = 0.999; the tutorial and torch compute it in double, and
    # so must the lab (to a few float32 ulps), traced b2 included.
    from jaxopt_lab.optimizers.plumbing import bias_corrections, one_minus_power

    steps = np.array([0, 1, 9, 99, 999, 99_999], np.int32)
    t = steps.astype(np.float64) + 1
    for b1, b2 in [(0.9, 0.999), (0.0, 0.5), (0.99, 0.9999)]:
        bc1, bc2 = bias_corrections(
            jaxopt_lab.AdamState(jnp.asarray(steps), None, None), b1, b2, jnp.float32
        )
        assert bc1.dtype == bc2.dtype == jnp.float32
        for got, b in ((bc1, b1), (bc2, b2)):
            want = -np.expm1(t * np.log(b)) if b > 0 else np.ones_like(t)
            np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=4e-7)
    naive = 1 - jnp.float32(0.999) ** jnp.float32(1.0)
    assert abs(float(naive) / 1e-3 - 1) > 1e-5  # what the float32 shortcut gives
    traced = jax.jit(lambda b: one_minus_power(b, jnp.float32(1.0)))(jnp.float32(0.5))
    assert float(traced) == 0.5
    bfloat16 = bias_corrections(
        jaxopt_lab.AdamState(jnp.int32(0), None, None), 0.9, 0.999, jnp.bfloat16
    )
    assert bfloat16[1].dtype == jnp.float32 and float(bfloat16[1]) > 0
