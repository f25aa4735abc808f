"""The flat fast path against the pytree path and NumPy.

Every lab optimizer is elementwise, so on a flat buffer it performs, element
for element, the same float operations as on the tree. The tolerance is zero
(bit for bit) wherever XLA compiles the same operations, and 1 float32 ulp
where its shape-dependent rewrites of divisions differ (see
``test_flat_update_matches_pytree_update``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxopt_lab
from jaxopt_lab import crosscheck, flat

# One configuration per optimizer that touches its optional branches too
# (centered RMSprop with momentum, the paper's Adam, a schedule).
CONFIGS = {
    "sgd": lambda: jaxopt_lab.sgd(0.1),
    "momentum": lambda: jaxopt_lab.momentum(0.05, 0.9),
    "nesterov": lambda: jaxopt_lab.nesterov(0.05, 0.8),
    "adagrad": lambda: jaxopt_lab.adagrad(0.1, initial_accumulator_value=0.1, eps_in_sqrt=True),
    "adagrad_tutorial": lambda: jaxopt_lab.adagrad(0.1),
    "rmsprop": lambda: jaxopt_lab.rmsprop(0.01, centered=True, momentum=0.5),
    "rmsprop_keras": lambda: jaxopt_lab.rmsprop(0.01, decay=0.9, eps_in_sqrt=True),
    "adam": lambda: jaxopt_lab.adam(optax.exponential_decay(0.01, 1, 0.9)),
    "adam_paper": lambda: jaxopt_lab.adam(0.01, eps=1e-8, eps_hat=False),
    "adamw": lambda: jaxopt_lab.adamw(0.01, weight_decay=0.1),
    "adadelta": lambda: jaxopt_lab.adadelta(0.5, rho=0.9),
    "amsgrad": lambda: jaxopt_lab.amsgrad(0.01),
    "adamax": lambda: jaxopt_lab.adamax(0.01),
    "nadam": lambda: jaxopt_lab.nadam(0.01),
    "nadam_optax": lambda: jaxopt_lab.nadam(0.01, momentum_decay=None),
    "nadamw": lambda: jaxopt_lab.nadamw(0.01, weight_decay=0.1),
    "radam": lambda: jaxopt_lab.radam(0.01),
    "rprop": lambda: jaxopt_lab.rprop(0.01),
    "lion": lambda: jaxopt_lab.lion(0.01, weight_decay=0.1),
}
# Not elementwise: on one flat vector these are other optimizers (a factored moment, a
# trust ratio, the Newton-Schulz iteration per leaf); schedule-free AdamW is elementwise
# but keeps per-leaf scalars, one on the flat path (tests/test_optimizers_*.py check both).
PER_LEAF = {"adafactor", "lamb", "muon", "schedule_free_adamw"}


def test_configs_cover_every_lab_optimizer():
    covered = {name.split("_")[0] for name in CONFIGS}
    assert covered == set(jaxopt_lab.OPTIMIZERS) - PER_LEAF


def many_leaf_tree(seed: int = 0, leaves: int = 40) -> dict:
    """A nested tree of ``leaves`` float32 arrays of assorted shapes (scalars included)."""
    rng = np.random.default_rng(seed)
    shapes = [(), (3,), (2, 5), (4, 1, 3), (7,)]
    return {
        f"layer{i:02d}": {
            "w": jnp.asarray(rng.normal(size=shapes[i % 5]), jnp.float32),
            "b": jnp.asarray(rng.normal(size=(i % 4 + 1,)), jnp.float32),
        }
        for i in range(leaves // 2)
    }


def quadratic_loss(params: dict) -> jax.Array:
    """``sum_leaf sum((leaf - 0.5)**2 * (1 + leaf_index))``: a different curvature per leaf."""
    leaves = jax.tree.leaves(params)
    return sum(jnp.sum((leaf - 0.5) ** 2) * (1.0 + index) for index, leaf in enumerate(leaves))


# --------------------------------------------------------------------------- ravel


def test_ravel_matches_numpy_concatenation_and_round_trips():
    tree = many_leaf_tree()
    flat_params, unravel = flat.ravel(tree)
    expected = np.concatenate([np.ravel(np.asarray(leaf)) for leaf in jax.tree.leaves(tree)])
    assert flat_params.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(flat_params), expected)
    assert unravel.size == expected.size
    back = unravel(flat_params)
    assert jax.tree.structure(back) == jax.tree.structure(tree)
    for got, want in zip(jax.tree.leaves(back), jax.tree.leaves(tree), strict=True):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_ravel_single_leaf_and_unravel_under_jit():
    tree = {"w": jnp.arange(6, dtype=jnp.float32).reshape(2, 3)}
    flat_params, unravel = flat.ravel(tree)
    np.testing.assert_array_equal(np.asarray(flat_params), np.arange(6, dtype=np.float32))
    doubled = jax.jit(lambda v: unravel(2 * v))(flat_params)
    np.testing.assert_array_equal(np.asarray(doubled["w"]), 2 * np.arange(6).reshape(2, 3))


def test_ravel_refuses_mixed_dtypes_naming_the_leaves():
    tree = {"w": jnp.ones(3, jnp.float32), "scale": jnp.ones(2, jnp.bfloat16)}
    with pytest.raises(TypeError, match=r"mixed dtypes.*bfloat16: \['scale'\].*float32: \['w'\]"):
        flat.ravel(tree)


def test_ravel_refuses_an_empty_tree():
    with pytest.raises(ValueError, match="no array leaves"):
        flat.ravel({"a": None})


def test_unravel_refuses_wrong_shape_and_dtype():
    _, unravel = flat.ravel({"w": jnp.ones((2, 3), jnp.float32)})
    with pytest.raises(ValueError, match=r"flat must have shape \(6,\)"):
        unravel(jnp.ones(5, jnp.float32))
    with pytest.raises(TypeError, match="flat has dtype int32"):
        unravel(jnp.ones(6, jnp.int32))


# --------------------------------------------------------------------------- identical numbers


def ulp_distance(a: Any, b: Any) -> int:
    """Largest elementwise ulp distance between two arrays of one dtype."""
    return int(np.max(crosscheck.ulp_distance(a, b), initial=0))


def random_grads(tree: dict, rng: np.random.Generator) -> dict:
    return jax.tree.map(lambda leaf: jnp.asarray(rng.normal(size=leaf.shape), jnp.float32), tree)


def update_step(optimizer):
    def step(params, state, grads):
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return jax.jit(step)


def run_update_paths(optimizer, steps: int = 5):
    """The same gradients through the pytree path and the flat path; both final states."""
    rng = np.random.default_rng(1)
    tree = many_leaf_tree()
    step = update_step(optimizer)
    tree_params, tree_state = tree, optimizer.init(tree)
    flat_params, _ = flat.ravel(tree)
    flat_state = optimizer.init(flat_params)
    for _ in range(steps):
        grads = random_grads(tree, rng)
        tree_params, tree_state = step(tree_params, tree_state, grads)
        flat_params, flat_state = step(flat_params, flat_state, flat.ravel(grads)[0])
    return (tree_params, tree_state), (flat_params, flat_state)


def moment_pairs(tree_state, flat_state):
    """``(name, pytree-path buffer ravelled, flat-path buffer)`` for every moment in the state."""
    for field in tree_state._fields[1:]:
        if field == "structure":  # SgdState's params structure: no arrays
            continue
        tree_field, flat_field = getattr(tree_state, field), getattr(flat_state, field)
        assert (tree_field is None) == (flat_field is None), field
        if tree_field is not None and np.ndim(flat_field) == 0:
            # A per-leaf scalar (NAdam's momentum product): every leaf holds the flat value.
            for leaf in jax.tree.leaves(tree_field):
                np.testing.assert_array_equal(leaf, flat_field, err_msg=field)
        elif tree_field is not None:
            yield field, np.asarray(flat.ravel(tree_field)[0]), np.asarray(flat_field)


# Params updated without a division or square root: identical bit for bit.
EXACT_PARAMS = {"sgd", "momentum", "nesterov", "rprop"}
# Moments that accumulate without division: identical bit for bit in every optimizer.
EXACT_MOMENTS = {"first_moment", "second_moment", "sum_of_squares", "mean_square", "mean_gradient"}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_flat_update_matches_pytree_update(name):
    """The same gradients through both paths, 5 steps.

    Bit for bit: the moments (sums and products only), and the params of the
    optimizers whose step has no division. Where the step divides, XLA:CPU makes
    shape-dependent rewrites (a division by a broadcast scalar becomes a
    multiplication by its reciprocal, ``x / sqrt(y)`` becomes ``x * rsqrt(y)``)
    that it applies to a flat vector but not always to a scalar or rank-3 leaf,
    so an element can round differently: at most 1 float32 ulp, in a few elements.
    """
    (tree_params, tree_state), (flat_params, flat_state) = run_update_paths(CONFIGS[name]())
    want_params = np.asarray(flat.ravel(tree_params)[0])
    if name in EXACT_PARAMS:
        np.testing.assert_array_equal(np.asarray(flat_params), want_params)
    else:
        assert ulp_distance(np.asarray(flat_params), want_params) <= 1
        assert np.mean(np.asarray(flat_params) == want_params) > 0.9
    assert int(flat_state.count) == int(tree_state.count) == 5
    for field, want, got in moment_pairs(tree_state, flat_state):
        if field in EXACT_MOMENTS or name in EXACT_PARAMS:
            np.testing.assert_array_equal(got, want, err_msg=field)
        else:
            assert ulp_distance(got, want) <= 1, field


def test_flat_train_step_matches_pytree_train_step():
    """The whole step (loss gradient and update) on both paths, with Adam.

    The update is bit-identical given the same gradients (above); the gradient
    of the loss is computed by two different XLA programs (per leaf, or through
    the slices of ``unravel``), which may fold the loss's constants in another
    order: a few float32 ulps, hence rtol 1e-6 after 5 steps.
    """
    optimizer = CONFIGS["adam_paper"]()
    tree = many_leaf_tree()
    step = jax.jit(flat.train_step(optimizer, quadratic_loss))
    tree_params, tree_state = tree, optimizer.init(tree)
    flat_params, unravel = flat.ravel(tree)
    flat_step = jax.jit(flat.train_step(optimizer, quadratic_loss, unravel), donate_argnums=(0, 1))
    flat_state = optimizer.init(flat_params)
    for _ in range(5):
        tree_params, tree_state, tree_loss = step(tree_params, tree_state)
        flat_params, flat_state, flat_loss = flat_step(flat_params, flat_state)
        np.testing.assert_allclose(float(flat_loss), float(tree_loss), rtol=1e-6)
    np.testing.assert_allclose(
        np.asarray(flat_params), np.asarray(flat.ravel(tree_params)[0]), rtol=1e-6, atol=1e-7
    )
    # And the loss went down: the step is a training step, not a no-op.
    assert float(flat_loss) < float(quadratic_loss(tree))


@pytest.mark.parametrize("name", ["adamw", "rmsprop"])
def test_flatten_wrapper_matches_pytree_update(name):
    optimizer = CONFIGS[name]()
    wrapped = flat.flatten(optimizer)
    rng = np.random.default_rng(2)
    tree = many_leaf_tree()
    step, wrapped_step = update_step(optimizer), update_step(wrapped)
    tree_params, tree_state = tree, optimizer.init(tree)
    wrapped_params, wrapped_state = tree, wrapped.init(tree)
    for _ in range(4):
        grads = random_grads(tree, rng)
        tree_params, tree_state = step(tree_params, tree_state, grads)
        wrapped_params, wrapped_state = wrapped_step(wrapped_params, wrapped_state, grads)
    # Same arithmetic as the flat path: within 1 ulp (see above).
    flat_wrapped = np.asarray(flat.ravel(wrapped_params)[0])
    assert ulp_distance(flat_wrapped, np.asarray(flat.ravel(tree_params)[0])) <= 1
    # The state really is flat: one vector per moment.
    assert all(leaf.ndim <= 1 for leaf in jax.tree.leaves(wrapped_state))
    assert len(jax.tree.leaves(wrapped_state)) < len(jax.tree.leaves(tree))


def test_flatten_wrapper_checks_params_structure_and_dtypes():
    wrapped = flat.flatten(jaxopt_lab.adamw(0.01))
    tree = {"a": jnp.ones(3, jnp.float32), "b": jnp.ones(2, jnp.float32)}
    state = wrapped.init(tree)
    with pytest.raises(ValueError, match="params do not have the tree structure of grads"):
        wrapped.update(tree, state, {"a": jnp.ones(5, jnp.float32)})
    with pytest.raises(TypeError, match="mixed dtypes"):
        wrapped.init({"a": jnp.ones(3, jnp.float32), "b": jnp.ones(2, jnp.float16)})


def test_flat_path_under_vmap_over_learning_rate():
    """A learning-rate sweep on the flat path equals the pytree path run once per rate.

    vmap turns the scalar learning rate into a vector operand, so XLA may order
    the multiplies differently: a few float32 ulps (rtol 2e-6), not bits.
    """
    tree = many_leaf_tree(leaves=10)
    rates = [0.001, 0.01, 0.1]
    flat_params, unravel = flat.ravel(tree)

    def final_flat(learning_rate):
        optimizer = jaxopt_lab.adam(learning_rate)
        step = flat.train_step(optimizer, quadratic_loss, unravel)
        params, state = flat_params, optimizer.init(flat_params)
        for _ in range(3):
            params, state, _ = step(params, state)
        return params

    swept = jax.jit(jax.vmap(final_flat))(jnp.asarray(rates, jnp.float32))
    assert swept.shape == (3, flat_params.size)
    for index, learning_rate in enumerate(rates):
        optimizer = jaxopt_lab.adam(learning_rate)
        step = jax.jit(flat.train_step(optimizer, quadratic_loss))
        params, state = tree, optimizer.init(tree)
        for _ in range(3):
            params, state, _ = step(params, state)
        np.testing.assert_allclose(
            np.asarray(swept[index]), np.asarray(flat.ravel(params)[0]), rtol=2e-6, atol=1e-7
        )
