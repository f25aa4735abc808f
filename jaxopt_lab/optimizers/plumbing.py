"""The plumbing every lab optimizer shares: checks, the step count, pytrees.

An optimizer's algorithm is a *leaf rule* (a few lines that update one array
of parameters, written beside its formula, in the optimizer's own module);
:func:`elementwise_optimizer` turns a rule into an ``optax.GradientTransformation``
and owns everything else once: ``None`` leaves, dtype, structure and shape
checks, the step count, learning-rate schedules and the state dtype.
:func:`hyperparameters` declares, beside each optimizer, which of its
arguments are numbers that ``jax.vmap`` may sweep.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

Schedule = Callable[[jax.Array], jax.Array]
ScalarOrSchedule = float | jax.Array | Schedule

apply_updates = optax.apply_updates


# --------------------------------------------------------------------------- checks


def _is_concrete(value: Any) -> bool:
    return not isinstance(value, jax.core.Tracer)


def check_hyperparameter(
    name: str,
    value: Any,
    *,
    low: float = 0.0,
    high: float | None = None,
    optional: bool = False,
) -> None:
    """Raise ``ValueError`` if a concrete ``value`` is outside ``[low, high)``.

    Tracers (``jit``/``vmap`` arguments) and schedules are not checked here: a
    traced value is unknown when the optimizer is built, and a schedule is a
    function. Arrays are checked element by element; NaN is always rejected.
    """
    if value is None and optional:
        return
    if callable(value) or not _is_concrete(value):
        return
    try:
        values = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a number, got {value!r}") from error
    bad = ~(values >= low)
    if high is not None:
        bad |= ~(values < high)
    if np.any(bad):
        interval = f"[{low}, {high})" if high is not None else f">= {low}"
        shown = value if values.ndim == 0 else values[bad]
        raise ValueError(f"{name} must be {interval}, got {shown!r}")


def _check_float_leaves(tree: Any, argument: str) -> None:
    """Raise ``TypeError`` naming the first leaf that is not floating point."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        dtype = jnp.result_type(leaf)
        if not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(
                f"{argument} leaf at {jax.tree_util.keystr(path) or '<root>'} has dtype "
                f"{dtype}; optimizers need floating-point leaves (cast it, or keep "
                "it out of the optimized tree)"
            )


def _check_same_structure(grads: Any, state_tree: Any, argument: str) -> None:
    grads_structure = jax.tree.structure(grads)
    state_structure = jax.tree.structure(state_tree)
    if grads_structure != state_structure:
        raise ValueError(
            f"{argument} do not have the tree structure the optimizer state was built "
            f"for.\n  {argument}: {grads_structure}\n  state:  {state_structure}"
        )


def _check_same_shapes(grads: Any, other_leaves: list, other: str) -> None:
    """Raise ``ValueError`` naming the first grads leaf whose shape is not ``other``'s.

    Without it a ``()`` gradient broadcasts silently against a ``(3,)`` moment.
    """
    grads_with_paths = jax.tree_util.tree_flatten_with_path(grads)[0]
    for (path, grad), other_leaf in zip(grads_with_paths, other_leaves, strict=True):
        if jnp.shape(grad) != jnp.shape(other_leaf):
            raise ValueError(
                f"grads leaf at {jax.tree_util.keystr(path) or '<root>'} has shape "
                f"{jnp.shape(grad)}; {other} has {jnp.shape(other_leaf)}"
            )


def _check_state_dtype(state_dtype: Any) -> None:
    if state_dtype is None:
        return
    try:
        dtype = jnp.dtype(state_dtype)
    except TypeError:
        dtype = None
    if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"state_dtype must be a floating-point dtype, got {state_dtype!r}")


# --------------------------------------------------------------------------- plumbing

# A leaf rule updates one array: rule(grad, leaf_state, param, step_size) ->
# (update, new_leaf_state). ``leaf_state`` is the optimizer's state NamedTuple
# holding that leaf's arrays (``None`` for unused fields) and the step count.
LeafRule = Callable[[jax.Array, Any, jax.Array | None, jax.Array], tuple[jax.Array, Any]]


def elementwise_optimizer(
    rule: LeafRule,
    state_type: type,
    initial_values: dict[str, float | jax.Array | None],
    learning_rate: ScalarOrSchedule,
    *,
    state_dtype: Any = None,
    needs_params: bool = False,
) -> optax.GradientTransformation:
    """Build an ``(init, update)`` pair from a rule that updates one leaf.

    Args:
      rule: ``rule(grad, leaf_state, param, step_size) -> (update, leaf_state)``.
      state_type: the state NamedTuple; its first field is ``count``.
      initial_values: for each other field, the value its arrays start at, or
        ``None`` for a field this configuration does not use.
      learning_rate: a number, an array, or a schedule of the step count
        (called with the count before this step: 0 on the first).
      state_dtype: dtype of the moment arrays (e.g. ``jnp.float32`` for
        bfloat16 params); default: each param's own dtype. The rule runs in
        that dtype and updates come back in the params' dtype.
      needs_params: the rule reads ``param`` (weight decay).
    """

    _check_state_dtype(state_dtype)

    def init(params):
        _check_float_leaves(params, "params")
        moments = {
            field: None
            if value is None
            else jax.tree.map(
                lambda p, value=value: jnp.full(
                    jnp.shape(p), value, state_dtype or jnp.result_type(p)
                ),
                params,
            )
            for field, value in initial_values.items()
        }
        return state_type(count=jnp.zeros([], jnp.int32), **moments)

    def update(grads, state, params=None):
        _check_float_leaves(grads, "grads")
        if needs_params and params is None:
            raise ValueError("this optimizer applies weight decay: pass params to update()")
        grad_leaves, treedef = jax.tree.flatten(grads)
        fields = [field for field in state_type._fields[1:] if getattr(state, field) is not None]
        for field in fields:
            _check_same_structure(grads, getattr(state, field), "grads")
        if params is not None:
            _check_same_structure(params, grads, "params")
        moment_leaves = {field: treedef.flatten_up_to(getattr(state, field)) for field in fields}
        param_leaves = (
            treedef.flatten_up_to(params) if params is not None else [None] * len(grad_leaves)
        )
        for field in fields[:1]:
            _check_same_shapes(grads, moment_leaves[field], f"the optimizer state's {field}")
        if params is not None:
            _check_same_shapes(grads, param_leaves, "params")
        step_size = learning_rate(state.count) if callable(learning_rate) else learning_rate

        update_leaves = []
        new_moment_leaves = {field: [] for field in fields}
        for index, (grad, param) in enumerate(zip(grad_leaves, param_leaves)):
            grad = jnp.asarray(grad)
            compute_dtype = state_dtype or grad.dtype
            leaf_state = state._replace(**{field: moment_leaves[field][index] for field in fields})
            update, new_leaf_state = rule(
                grad.astype(compute_dtype),
                leaf_state,
                None if param is None else jnp.asarray(param).astype(compute_dtype),
                step_size,
            )
            output_dtype = grad.dtype if param is None else jnp.result_type(param)
            update_leaves.append(update.astype(output_dtype))
            for field in fields:
                moment = getattr(new_leaf_state, field)
                new_moment_leaves[field].append(moment.astype(moment_leaves[field][index].dtype))

        new_state = state._replace(
            count=optax.safe_increment(state.count),
            **{field: treedef.unflatten(leaves) for field, leaves in new_moment_leaves.items()},
        )
        return treedef.unflatten(update_leaves), new_state

    return optax.GradientTransformation(init, update)


def bias_corrections(leaf_state: Any, b1: Any, b2: Any, dtype: Any) -> tuple[jax.Array, jax.Array]:
    """``(1 - b1**t, 1 - b2**t)`` for the 1-based step t, in at least float32.

    In bfloat16, 0.999 rounds to 1, so ``1 - b2**t`` would be 0 and Adam would
    never move; a float16 step number is inexact past 2048 steps. Computed as
    optax does, in at least float32, from the count converted before adding
    one, so that a saturated int32 count cannot wrap to -2**31.
    """
    wide = jnp.promote_types(dtype, jnp.float32)
    t = leaf_state.count.astype(wide) + 1
    return 1 - b1**t, 1 - b2**t


# --------------------------------------------------------------------------- declarations


def hyperparameters(*names: str) -> Callable[[Callable], Callable]:
    """Declare which arguments of an optimizer are numbers a sweep may vary.

    ``@hyperparameters("learning_rate", "momentum")`` above an optimizer
    records the names as its ``hyperparameters`` attribute: the arguments that
    may be Python numbers, JAX arrays or tracers (so ``jax.vmap`` can sweep
    them), as opposed to switches (``eps_hat``, ``centered``) and dtypes.
    ``jaxopt_lab.grid.hyperparameter_names`` reads this list (for sweeps and the
    command line), and nothing else.
    """

    def declare(make_optimizer: Callable) -> Callable:
        parameters = inspect.signature(make_optimizer).parameters
        unknown = [name for name in names if name not in parameters]
        if unknown:
            raise TypeError(f"{make_optimizer.__name__} has no argument {unknown[0]!r}")
        make_optimizer.hyperparameters = tuple(names)
        return make_optimizer

    return declare
