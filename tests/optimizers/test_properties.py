"""Property tests (hypothesis): random pytrees, random hyperparameters, random bad input.

Random trees nest dicts, lists and tuples, with ``None`` leaves, 0-d and empty
leaves, and float16, bfloat16, float32 and float64 leaves. For each random
tree and random valid hyperparameters, every lab optimizer must equal an
independent float64 reference (the tutorial's NumPy classes for the tutorial's forms,
optax for the variants optax shares), within a tolerance derived from the leaf
dtype, and stay finite. For random invalid input it must raise the clear error
the core names, never an error from deep inside JAX.

Tolerances. Gradients here do not depend on params, so the lab and the
reference see the same gradients and differ only by rounding: per step, at
most a few ulps of the params' dtype on ``|p| + |update|`` (the rounding of
the update to that dtype and of ``p + update``), plus the float32 state's own
rounding. We allow ``TOLERANCE_ULPS * eps(dtype) * steps * scale``, where
``scale`` is the largest ``|p| + |update|`` along the reference trajectory.
Betas are kept <= 0.999 so that ``1 - b**t`` loses at most 3 digits.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import optax
import pytest

import jaxopt_lab
from jaxopt_lab import reference

# Part of the test extra; a bare accelerator machine (jax, optax, numpy, pytest) lacks it.
hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")
HealthCheck, assume, given, settings = (
    hypothesis.HealthCheck,
    hypothesis.assume,
    hypothesis.given,
    hypothesis.settings,
)

STEPS = 3
TOLERANCE_ULPS = 4  # measured worst case over 600 examples: 0.58
EXAMPLES = int(os.environ.get("JAXOPT_LAB_EXAMPLES", "25"))  # raise it for a deeper search
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # Under CI the examples are the same on every run (a failure there is reproducible and
    # never a new draw's luck); locally each run draws new ones, and finds more.
    derandomize=os.environ.get("CI") == "true",
)

LOW_PRECISION = [np.float16, ml_dtypes.bfloat16, np.float32]


# --------------------------------------------------------------------------- random trees


@dataclasses.dataclass(frozen=True)
class Leaf:
    """A leaf of a random tree spec: its shape and dtype (not a pytree node)."""

    shape: tuple[int, ...]
    dtype: Any


SHAPES = st.sampled_from([(), (0,), (1,), (3,), (2, 3), (0, 4), (2, 1, 2)])


def leaves(dtypes):
    return st.builds(Leaf, SHAPES, st.sampled_from(dtypes))


def tree_specs(dtypes, max_leaves=6):
    """Nested dicts/lists/tuples of ``Leaf`` and ``None``, at least one array leaf."""
    base = leaves(dtypes) | st.none()
    keys = st.sampled_from(["a", "b", "c", "w", "bias"])
    nested = st.recursive(
        base,
        lambda children: (
            st.lists(children, max_size=3)
            | st.lists(children, max_size=3).map(tuple)
            | st.dictionaries(keys, children, max_size=3)
        ),
        max_leaves=max_leaves,
    )
    return nested.filter(lambda spec: len(spec_leaves(spec)) > 0)


def is_spec_leaf(node):
    return isinstance(node, Leaf)


def spec_leaves(spec):
    return jax.tree.leaves(spec, is_leaf=is_spec_leaf)


def materialise(spec, rng, scale, zero_fraction=0.0):
    """A tree of NumPy arrays with ``spec``'s structure, rounded to each leaf's dtype."""

    def make(leaf):
        values = np.array(rng.normal(size=leaf.shape) * scale)
        values[rng.uniform(size=leaf.shape) < zero_fraction] = 0.0
        return np.asarray(values, dtype=leaf.dtype)

    return jax.tree.map(make, spec, is_leaf=is_spec_leaf)


def as_float64(tree):
    return jax.tree.map(lambda leaf: np.asarray(leaf, np.float64), tree)


# --------------------------------------------------------------------------- references


def seed_reference(cls, **kwargs):
    """Run the tutorial's NumPy class on the float64 leaves; returns the final leaves."""

    def run(params, grads_per_step):
        optimizer = cls(**kwargs)
        flat = {index: leaf.copy() for index, leaf in enumerate(jax.tree.leaves(params))}
        trajectory = [dict(flat)]
        for grads in grads_per_step:
            optimizer.update(flat, dict(enumerate(jax.tree.leaves(grads))))
            trajectory.append({key: value.copy() for key, value in flat.items()})
        return trajectory

    return run


def optax_reference(make_transform):
    """Run an optax transform in float64 (under x64); returns the trajectory."""

    def run(params, grads_per_step):
        with jax.enable_x64(True):
            transform = make_transform()
            params = jax.tree.map(jnp.asarray, params)
            state = transform.init(params)
            trajectory = [_numbered(params)]
            for grads in grads_per_step:
                updates, state = transform.update(jax.tree.map(jnp.asarray, grads), state, params)
                params = optax.apply_updates(params, updates)
                trajectory.append(_numbered(params))
            return trajectory

    return run


def _numbered(tree):
    return {index: np.asarray(leaf) for index, leaf in enumerate(jax.tree.leaves(tree))}


@dataclasses.dataclass
class Case:
    """A lab optimizer, how to build it, and its float64 reference."""

    label: str
    make: Callable[..., optax.GradientTransformation]  # make(state_dtype=None)
    reference: Callable
    takes_state_dtype: bool = True
    reference_condition: float = 0.0  # see assert_matches_reference


learning_rates = st.floats(1e-4, 1.0)
momenta = st.floats(0.0, 0.99)
betas = st.floats(0.0, 0.999)
second_betas = st.floats(0.5, 0.999)
epsilons = st.floats(1e-8, 1e-2)
eps_roots = st.floats(0.0, 1e-4)
initial_values = st.floats(0.0, 1.0)


@st.composite
def cases(draw):
    """A random lab optimizer configuration and the reference that must match it."""
    kind = draw(
        st.sampled_from(
            [
                "sgd",
                "momentum",
                "momentum-optax",
                "nesterov-optax",
                "adagrad",
                "adagrad-optax",
                "rmsprop",
                "rmsprop-optax",
                "adam",
                "adam-optax",
                "adamw-optax",
            ]
        )
    )
    lr = draw(learning_rates)
    lab = jaxopt_lab
    if kind == "sgd":
        return Case(kind, lambda **_: lab.sgd(lr), seed_reference(reference.SGD, lr=lr), False)
    if kind == "momentum":
        m = draw(momenta)
        return Case(
            kind,
            lambda **k: lab.momentum(lr, m, **k),
            seed_reference(reference.Momentum, lr=lr, momentum=m),
        )
    if kind == "momentum-optax":
        m = draw(momenta)
        return Case(
            kind, lambda **k: lab.momentum(lr, m, **k), optax_reference(lambda: optax.sgd(lr, m))
        )
    if kind == "nesterov-optax":
        m = draw(momenta)
        return Case(
            kind,
            lambda **k: lab.nesterov(lr, m, **k),
            optax_reference(lambda: optax.sgd(lr, m, nesterov=True)),
        )
    if kind == "adagrad":
        return Case(
            kind, lambda **k: lab.adagrad(lr, **k), seed_reference(reference.AdaGrad, lr=lr)
        )
    if kind == "adagrad-optax":
        eps, initial = draw(epsilons), draw(initial_values)
        return Case(
            kind,
            lambda **k: lab.adagrad(
                lr, eps, initial_accumulator_value=initial, eps_in_sqrt=True, **k
            ),
            optax_reference(lambda: optax.adagrad(lr, initial, eps)),
        )
    if kind == "rmsprop":
        decay = draw(second_betas)
        return Case(
            kind,
            lambda **k: lab.rmsprop(lr, decay, **k),
            seed_reference(reference.RMSprop, lr=lr, decay_rate=decay),
        )
    if kind == "rmsprop-optax":
        decay, eps = draw(second_betas), draw(epsilons)
        eps_in_sqrt, centered = draw(st.booleans()), draw(st.booleans())
        initial = draw(initial_values)
        m = draw(st.none() | momenta)
        knobs = dict(eps_in_sqrt=eps_in_sqrt, initial_scale=initial, centered=centered, momentum=m)
        return Case(
            f"{kind}{knobs}",
            lambda **k: lab.rmsprop(lr, decay, eps, **knobs, **k),
            optax_reference(lambda: optax.rmsprop(lr, decay, eps, **knobs)),
        )
    b1, b2 = draw(betas), draw(second_betas)
    # The references compute 1 - b**t as written, losing digits to cancellation (a relative
    # error of up to eps / (1 - b)); the lab computes it accurately (-expm1(t log b)).
    condition = 1 / (1 - b1) + 0.5 / (1 - b2)
    if kind == "adam":
        return Case(
            kind,
            lambda **k: lab.adam(lr, b1, b2, **k),
            seed_reference(reference.Adam, lr=lr, beta1=b1, beta2=b2),
            reference_condition=condition,
        )
    eps, eps_root = draw(epsilons), draw(eps_roots)
    if kind == "adam-optax":
        return Case(
            kind,
            lambda **k: lab.adam(lr, b1, b2, eps, eps_root=eps_root, eps_hat=False, **k),
            optax_reference(lambda: optax.adam(lr, b1, b2, eps, eps_root)),
            reference_condition=condition,
        )
    weight_decay = draw(st.floats(0.0, 0.1))
    return Case(
        kind,
        lambda **k: lab.adamw(lr, b1, b2, eps, weight_decay, eps_root=eps_root, eps_hat=False, **k),
        optax_reference(lambda: optax.adamw(lr, b1, b2, eps, eps_root, weight_decay=weight_decay)),
        reference_condition=condition,
    )


def run_lab(optimizer, params, grads_per_step):
    state = optimizer.init(params)
    for grads in grads_per_step:
        updates, state = optimizer.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    return params, state


def assert_matches_reference(lab_params, trajectory, dtypes, reference_condition=0.0):
    """Each lab leaf within TOLERANCE_ULPS * eps(dtype) * STEPS * scale of the reference.

    Plus, where the float64 reference itself is inexact, its own error: with
    ``reference_condition`` c, ``c * eps(float64)`` relative to each step
    (Adam's ``1 - b**t`` computed as written: c = 1/(1 - b1) + 0.5/(1 - b2)).
    """
    lab_leaves = [np.asarray(leaf, np.float64) for leaf in jax.tree.leaves(lab_params)]
    for index, (got, dtype) in enumerate(zip(lab_leaves, dtypes, strict=True)):
        path = [step[index] for step in trajectory]
        want = path[-1]
        if want.size == 0:
            assert got.shape == want.shape
            continue
        moves = [np.abs(after - before) for before, after in zip(path, path[1:], strict=False)]
        scale = max(np.max(np.abs(p)) for p in path) + max(np.max(m) for m in moves)
        tolerance = TOLERANCE_ULPS * float(jnp.finfo(dtype).eps) * STEPS * scale
        tolerance += reference_condition * float(np.finfo(np.float64).eps) * sum(map(np.max, moves))
        error = np.max(np.abs(got - want))
        assert error <= tolerance, (
            f"leaf {index} ({np.dtype(dtype)}): error {error:.3g} > {tolerance:.3g}"
        )


def assert_finite(tree):
    for leaf in jax.tree.leaves(tree):
        assert np.all(np.isfinite(np.asarray(leaf, np.float64))), leaf


# --------------------------------------------------------------------------- properties


@SETTINGS
@given(
    case=cases(),
    spec=tree_specs([np.float64]),
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(1e-3, 1e2),
)
def test_float64_trees_match_the_reference(case, spec, seed, scale):
    """float64 leaves (under x64) against the float64 reference: ulps of float64."""
    rng = np.random.default_rng(seed)
    with jax.enable_x64(True):
        params = materialise(spec, rng, 1.0)
        grads_per_step = [materialise(spec, rng, scale, zero_fraction=0.2) for _ in range(STEPS)]
        lab_params, state = run_lab(case.make(), params, grads_per_step)
        dtypes = [leaf.dtype for leaf in spec_leaves(spec)]
        assert_matches_reference(
            lab_params, case.reference(params, grads_per_step), dtypes, case.reference_condition
        )
        assert_finite((lab_params, state))
        assert jax.tree.structure(lab_params) == jax.tree.structure(params)


@SETTINGS
@given(
    case=cases(),
    spec=tree_specs(LOW_PRECISION),
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(1e-3, 1e2),
)
def test_low_precision_trees_with_float32_state_match_the_reference(case, spec, seed, scale):
    """float16/bfloat16/float32 params, float32 state: within ulps of each leaf's dtype."""
    rng = np.random.default_rng(seed)
    params = materialise(spec, rng, 1.0)
    grads_per_step = [materialise(spec, rng, scale, zero_fraction=0.2) for _ in range(STEPS)]
    state_dtype = {"state_dtype": jnp.float32} if case.takes_state_dtype else {}
    lab_params, state = run_lab(case.make(**state_dtype), params, grads_per_step)
    dtypes = [leaf.dtype for leaf in spec_leaves(spec)]
    for leaf, dtype in zip(jax.tree.leaves(lab_params), dtypes, strict=True):
        assert leaf.dtype == dtype  # params keep their dtype
    trajectory = case.reference(as_float64(params), [as_float64(g) for g in grads_per_step])
    assert_matches_reference(lab_params, trajectory, dtypes, case.reference_condition)
    assert_finite((lab_params, state))


@SETTINGS
@given(
    case=cases(),
    spec=tree_specs([ml_dtypes.bfloat16, np.float32]),
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(1e-3, 1e2),
)
def test_bfloat16_and_float32_state_stays_finite(case, spec, seed, scale):
    """With the state in the params' own dtype (no state_dtype), finite in, finite out."""
    rng = np.random.default_rng(seed)
    params = materialise(spec, rng, 1.0)
    grads_per_step = [materialise(spec, rng, scale, zero_fraction=0.2) for _ in range(STEPS)]
    assert_finite(run_lab(case.make(), params, grads_per_step))


def test_float16_state_cannot_hold_eps_below_its_resolution():
    """Why float16 params want ``state_dtype=jnp.float32``: eps=1e-8 rounds to 0 in float16.

    A zero gradient then gives 0 / (sqrt(0) + 0) = NaN, in the lab and in optax alike;
    with float32 state the same step is finite (and exactly zero).
    """
    params = {"w": np.array([1.0, 2.0], np.float16)}
    grads = {"w": np.array([0.0, 0.5], np.float16)}
    assert np.float16(1e-8) == 0
    for optimizer in [jaxopt_lab.adam(eps=1e-8, eps_hat=False), optax.adam(1e-3, eps=1e-8)]:
        updates, _ = optimizer.update(grads, optimizer.init(params), params)
        assert np.isnan(np.asarray(updates["w"][0]))
    safe = jaxopt_lab.adam(eps=1e-8, eps_hat=False, state_dtype=jnp.float32)
    updates, _ = safe.update(grads, safe.init(params), params)
    assert updates["w"].dtype == np.float16
    assert updates["w"][0] == 0 and np.isfinite(np.asarray(updates["w"][1]))


# --------------------------------------------------------------------------- invalid input

NON_NUMBERS = st.sampled_from([float("nan"), "fast", None, [0.1, "x"]])
NEGATIVE = st.floats(max_value=-1e-300, allow_nan=False) | NON_NUMBERS
AT_LEAST_ONE = st.floats(min_value=1.0) | NEGATIVE
BAD_STATE_DTYPES = st.sampled_from([jnp.int32, np.int8, jnp.bool_, "int", "not-a-dtype"])
NON_POSITIVE = st.just(0.0) | NEGATIVE  # eps where a zero denominator would give 0/0
BAD_CHOICES = st.sampled_from(["max", "", "RAW"])

# optimizer name -> {argument: strategy of invalid values}
BAD_HYPERPARAMETERS = {
    "sgd": {"learning_rate": NEGATIVE, "weight_decay": NEGATIVE},
    "momentum": {
        "learning_rate": NEGATIVE,
        "momentum": AT_LEAST_ONE,
        "dampening": AT_LEAST_ONE,
        "weight_decay": NEGATIVE,
        "state_dtype": BAD_STATE_DTYPES,
    },
    "nesterov": {
        "learning_rate": NEGATIVE,
        "momentum": AT_LEAST_ONE,
        "weight_decay": NEGATIVE,
        "state_dtype": BAD_STATE_DTYPES,
    },
    "adagrad": {
        "learning_rate": NEGATIVE,
        "eps": NEGATIVE,
        "initial_accumulator_value": NEGATIVE,
        "lr_decay": NEGATIVE,
        "weight_decay": NEGATIVE,
        "state_dtype": BAD_STATE_DTYPES,
    },
    "rmsprop": {
        "learning_rate": NEGATIVE,
        "decay": AT_LEAST_ONE,
        "eps": NEGATIVE,
        "initial_scale": NEGATIVE,
        "momentum": AT_LEAST_ONE,
        "weight_decay": NEGATIVE,
        "state_dtype": BAD_STATE_DTYPES,
    },
    "adam": {
        "learning_rate": NEGATIVE,
        "b1": AT_LEAST_ONE,
        "b2": AT_LEAST_ONE,
        "eps": NEGATIVE,
        "eps_root": NEGATIVE,
        "weight_decay": NEGATIVE,
        "state_dtype": BAD_STATE_DTYPES,
    },
    "adamw": {
        "learning_rate": NEGATIVE,
        "b1": AT_LEAST_ONE,
        "b2": AT_LEAST_ONE,
        "eps": NEGATIVE,
        "weight_decay": NEGATIVE,
        "eps_root": NEGATIVE,
        "state_dtype": BAD_STATE_DTYPES,
    },
    "adadelta": {
        "learning_rate": NEGATIVE,
        "rho": AT_LEAST_ONE,
        "eps": NON_POSITIVE,
        "weight_decay": NEGATIVE,
        "state_dtype": BAD_STATE_DTYPES,
    },
    "amsgrad": {
        "learning_rate": NEGATIVE,
        "b1": AT_LEAST_ONE,
        "b2": AT_LEAST_ONE,
        "eps": NEGATIVE,
        "eps_root": NEGATIVE,
        "max_of": BAD_CHOICES,
        "weight_decay": NEGATIVE,
        "state_dtype": BAD_STATE_DTYPES,
    },
    "adamax": {
        "learning_rate": NEGATIVE,
        "b1": AT_LEAST_ONE,
        "b2": AT_LEAST_ONE,
        "eps": NON_POSITIVE,
        "weight_decay": NEGATIVE,
        "state_dtype": BAD_STATE_DTYPES,
    },
    "nadam": {
        "learning_rate": NEGATIVE,
        "b1": AT_LEAST_ONE,
        "b2": AT_LEAST_ONE,
        "eps": NON_POSITIVE,
        "momentum_decay": NEGATIVE,
        "weight_decay": NEGATIVE,
        "state_dtype": BAD_STATE_DTYPES,
    },
    "nadamw": {
        "learning_rate": NEGATIVE,
        "b1": AT_LEAST_ONE,
        "b2": AT_LEAST_ONE,
        "eps": NON_POSITIVE,
        "weight_decay": NEGATIVE,
        "momentum_decay": NEGATIVE,
        "state_dtype": BAD_STATE_DTYPES,
    },
    "radam": {
        "learning_rate": NEGATIVE,
        "b1": AT_LEAST_ONE,
        "b2": AT_LEAST_ONE,
        "eps": NON_POSITIVE,
        "threshold": st.floats(max_value=4.0, allow_nan=False) | NON_NUMBERS,
        "weight_decay": NEGATIVE,
        "state_dtype": BAD_STATE_DTYPES,
    },
    "rprop": {
        "learning_rate": NEGATIVE,
        "eta_minus": AT_LEAST_ONE | st.just(0.0),
        "eta_plus": st.floats(max_value=1.0, allow_nan=False) | NON_NUMBERS,
        "min_step_size": NEGATIVE,
        "max_step_size": NEGATIVE,
        "state_dtype": BAD_STATE_DTYPES,
    },
}

# The optimizers of the atlas's second half (adafactor, lion, lamb, muon,
# schedule-free AdamW). Arguments that may be None get invalid values without None.
NOT_NONE = st.floats(max_value=-1e-300, allow_nan=False) | st.sampled_from(
    [float("nan"), "fast", [0.1, "x"]]
)
BAD_SWITCH_NAMES = st.sampled_from(["", "fast", None, 3])
BAD_COUNTS = st.sampled_from([-1, 1.5, "5", None])
BAD_HYPERPARAMETERS.update(
    {
        "adafactor": {
            "learning_rate": NEGATIVE,
            "decay_rate": NEGATIVE,
            "eps1": NOT_NONE,
            "eps2": NEGATIVE,
            "clipping_threshold": NOT_NONE,
            "weight_decay": NEGATIVE,
            "min_dim_size_to_factor": BAD_COUNTS,
            "factored_dims": BAD_SWITCH_NAMES,
            "decay_form": BAD_SWITCH_NAMES,
            "state_dtype": BAD_STATE_DTYPES,
        },
        "lion": {
            "learning_rate": NEGATIVE,
            "b1": AT_LEAST_ONE,
            "b2": AT_LEAST_ONE,
            "weight_decay": NEGATIVE,
            "state_dtype": BAD_STATE_DTYPES,
        },
        "lamb": {
            "learning_rate": NEGATIVE,
            "b1": AT_LEAST_ONE,
            "b2": AT_LEAST_ONE,
            "eps": NEGATIVE,
            "weight_decay": NEGATIVE,
            "eps_root": NEGATIVE,
            "state_dtype": BAD_STATE_DTYPES,
        },
        "muon": {
            "learning_rate": NEGATIVE,
            "momentum": AT_LEAST_ONE,
            "weight_decay": NEGATIVE,
            "eps": NEGATIVE,
            "momentum_form": BAD_SWITCH_NAMES,
            "ns_coefficients": st.sampled_from([(1.0, 2.0), "abc", None, (1.0, "x", 2.0)]),
            "ns_steps": BAD_COUNTS,
            "ns_dtype": BAD_STATE_DTYPES,
            "shape_scaling": BAD_SWITCH_NAMES,
            "rms_rate": NEGATIVE,
            "layout": BAD_SWITCH_NAMES,
            "non_matrix": BAD_SWITCH_NAMES,
            "adam_learning_rate": NOT_NONE,
            "adam_b1": AT_LEAST_ONE,
            "adam_b2": AT_LEAST_ONE,
            "adam_eps": NEGATIVE,
            "adam_weight_decay": NEGATIVE,
            "state_dtype": BAD_STATE_DTYPES,
        },
        "schedule_free_adamw": {
            "learning_rate": NEGATIVE,
            "b1": AT_LEAST_ONE | st.just(0.0),
            "b2": AT_LEAST_ONE,
            "eps": NEGATIVE,
            "weight_decay": NEGATIVE,
            "warmup_steps": BAD_COUNTS,
            "r": NEGATIVE,
            "weight_lr_power": NEGATIVE,
            "decay_point": BAD_SWITCH_NAMES,
            "state_dtype": BAD_STATE_DTYPES,
        },
    }
)
for _name in ("adam", "adamw", "lamb"):  # Adam's moments as optax (or torch, Keras) round them
    BAD_HYPERPARAMETERS[_name]["moment_form"] = BAD_SWITCH_NAMES

SWITCHES = {
    "relative_step",
    "multiply_by_parameter_scale",
    "eps1_as_floor",
    "decay_in_trust_ratio",
    "nesterov",
    "eps_as_floor",
    "adam_nesterov",
    "adam_eps_hat",
    "lagged_warmup",
}


@st.composite
def bad_hyperparameters(draw):
    name = draw(st.sampled_from(sorted(BAD_HYPERPARAMETERS)))
    argument = draw(st.sampled_from(sorted(BAD_HYPERPARAMETERS[name])))
    return name, argument, draw(BAD_HYPERPARAMETERS[name][argument])


@SETTINGS
@given(bad=bad_hyperparameters())
def test_invalid_hyperparameter_raises_value_error_naming_it(bad):
    name, argument, value = bad
    with pytest.raises(ValueError, match=argument):
        jaxopt_lab.OPTIMIZERS[name](**{argument: value})


def test_every_hyperparameter_of_every_optimizer_is_covered():
    """The table above lists every numeric hyperparameter each optimizer takes."""
    import inspect

    # Switches (tested in test_optimizers.py: a non-bool is a TypeError).
    skip = {
        "eps_in_sqrt",
        "eps_hat",
        "centered",
        "maximize",
        "decoupled_weight_decay",
        "complex_convention",
        "eps_in_max",
        "bias_correction",
    } | SWITCHES
    for name, make in jaxopt_lab.OPTIMIZERS.items():
        arguments = set(inspect.signature(make).parameters) - skip
        assert set(BAD_HYPERPARAMETERS[name]) == arguments, name


OPTIMIZER_NAMES = st.sampled_from(sorted(jaxopt_lab.OPTIMIZERS))


@SETTINGS
@given(name=OPTIMIZER_NAMES, spec=tree_specs([np.float32]), other=tree_specs([np.float32]))
def test_mismatched_trees_raise_value_error_showing_both_structures(name, spec, other):
    rng = np.random.default_rng(0)
    params, grads = materialise(spec, rng, 1.0), materialise(other, rng, 1.0)
    params_structure, grads_structure = jax.tree.structure(params), jax.tree.structure(grads)
    assume(params_structure != grads_structure)
    optimizer = jaxopt_lab.OPTIMIZERS[name]()
    state = optimizer.init(params)
    with pytest.raises(ValueError, match="tree structure") as error:
        optimizer.update(grads, state, params)
    assert str(params_structure) in str(error.value)
    assert str(grads_structure) in str(error.value)


@st.composite
def tree_with_one_bad_leaf(draw, replace):
    """A float32 tree, the key path of one of its leaves, and the tree with that leaf replaced."""
    spec = draw(tree_specs([np.float32]))
    tree = materialise(spec, np.random.default_rng(0), 1.0)
    paths = jax.tree_util.tree_flatten_with_path(tree)[0]
    index = draw(st.integers(0, len(paths) - 1))
    replacement = draw(replace(paths[index][1]))
    leaves = [leaf for _, leaf in paths]
    leaves[index] = replacement
    bad = jax.tree.unflatten(jax.tree.structure(tree), leaves)
    return tree, jax.tree_util.keystr(paths[index][0]) or "<root>", bad


def non_float_leaf(leaf):
    return st.sampled_from([np.int32, np.int64, np.bool_, np.uint8]).map(
        lambda dtype: np.zeros(leaf.shape, dtype)
    )


def wrong_shape_leaf(leaf):
    return SHAPES.filter(lambda shape: shape != leaf.shape).map(
        lambda shape: np.zeros(shape, np.float32)
    )


@SETTINGS
@given(name=OPTIMIZER_NAMES, case=tree_with_one_bad_leaf(non_float_leaf), in_params=st.booleans())
def test_integer_and_bool_leaves_raise_type_error_naming_the_leaf(name, case, in_params):
    good, path, bad = case
    optimizer = jaxopt_lab.OPTIMIZERS[name]()
    if in_params:
        with pytest.raises(TypeError, match=f"params leaf at {re.escape(path)} has dtype"):
            optimizer.init(bad)
    else:
        with pytest.raises(TypeError, match=f"grads leaf at {re.escape(path)} has dtype"):
            optimizer.update(bad, optimizer.init(good), good)


@SETTINGS
@given(name=OPTIMIZER_NAMES, case=tree_with_one_bad_leaf(wrong_shape_leaf))
def test_wrong_leaf_shapes_raise_value_error_naming_the_leaf(name, case):
    good, path, bad = case
    optimizer = jaxopt_lab.OPTIMIZERS[name]()
    with pytest.raises(ValueError, match=f"grads leaf at {re.escape(path)} has shape"):
        optimizer.update(bad, optimizer.init(good), good)
