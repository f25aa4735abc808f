"""What a lab optimizer checks: its hyperparameters when built, trees and shapes when run.

:func:`hyperparameters` checks, when an optimizer is built, that each declared
hyperparameter is a real number (not a string or a bool; ``None`` only where
the default or the annotation allows it), a scalar (not a
multi-element array that would broadcast silently), and finite; a schedule is
called once with count 0 (where it can be called concretely) and must return
such a number. When ``init`` sees the params, each concrete value is cast to
the working dtype of each leaf and must still be finite there (1e39 is inf in
float32). The ranges of each argument (``b1`` in [0, 1), ``eps > 0`` where a
denominator can be 0, ...) are checked by the optimizer itself with
:func:`check_hyperparameter`. Traced values (``jit``, ``vmap``) are checked for
shape and dtype only: their values are unknown when the optimizer is built.
Every such error is a ``ValueError`` that names the argument and the value; a
switch that is not a bool is a ``TypeError``.

The tree checks (:func:`check_inexact_leaves`, :func:`check_same_structure`,
:func:`check_same_shapes`, ...) run when ``init``/``update`` are traced, so a
jitted step pays nothing for them.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

# --------------------------------------------------------------------------- numbers


def is_concrete(value: Any) -> bool:
    """True for a value known when the optimizer is built (not a ``jit``/``vmap`` tracer)."""
    return not isinstance(value, jax.core.Tracer)


def check_hyperparameter(
    name: str,
    value: Any,
    *,
    low: float = 0.0,
    high: float | None = None,
    optional: bool = False,
    low_inclusive: bool = True,
    why: str = "",
) -> None:
    """Raise ``ValueError`` if a concrete ``value`` is outside ``[low, high)``.

    ``low_inclusive=False`` makes the interval ``(low, high)``; ``why`` is
    appended to the message. Tracers (``jit``/``vmap`` arguments) and
    schedules are not checked here: a traced value is unknown when the
    optimizer is built, and a schedule is a function. NaN is always rejected.
    """
    if value is None and optional:
        return
    if callable(value) or not is_concrete(value):
        return
    values = as_float64(name, value)
    bad = ~(values >= low) if low_inclusive else ~(values > low)
    if high is not None:
        bad |= ~(values < high)
    if np.any(bad):
        opening = "[" if low_inclusive else "("
        interval = (
            f"{opening}{low}, {high})"
            if high is not None
            else (f">= {low}" if low_inclusive else f"> {low}")
        )
        shown = value if values.ndim == 0 else values[bad]
        raise ValueError(f"{name} must be {interval}, got {shown!r}" + (f" ({why})" if why else ""))


def check_eps(name: str, eps: Any, *, denominator: str, guarded: bool = False) -> None:
    """Check ``eps >= 0``, and ``eps > 0`` unless ``guarded``.

    ``denominator`` (e.g. ``"sqrt(v) + eps"``) is 0 for a zero gradient when
    eps is 0, and the step is then 0/0; ``guarded`` says that something else
    (an ``eps_root``, a positive initial accumulator) keeps it away from 0.
    """
    why = f"with eps = 0 and a zero gradient, {denominator} is 0 and the step 0/0"
    why = "" if guarded else why
    check_hyperparameter(name, eps, low_inclusive=guarded, why=why)


def is_concrete_zero(value: Any) -> bool:
    """True only for a concrete 0 (a traced value may be anything)."""
    return is_concrete(value) and not callable(value) and bool(np.all(np.asarray(value) == 0))


def check_count(name: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``value`` is an int >= 0 (a number of steps, a size)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    """Raise ``ValueError`` if a switch ``value`` is not one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def as_float64(name: str, value: Any) -> np.ndarray:
    """A concrete real number as a float64 array; ``ValueError`` naming ``name`` otherwise."""
    if isinstance(value, (str, bytes, bool, np.bool_)) or value is None:
        raise ValueError(f"{name} must be a real number, got {value!r}")
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        dtype = np.asarray(value).dtype
    dtype = np.dtype(dtype)
    if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)) and (
        dtype.name != "bfloat16"
    ):
        raise ValueError(f"{name} must be a real number, got {value!r} (dtype {dtype})")
    return np.asarray(value, dtype=np.float64)


def check_number(name: str, value: Any, *, schedulable: bool) -> Any:
    """Check that a declared hyperparameter is a finite real scalar, or (if allowed) a schedule.

    Returns the value, or a schedule's value at count 0.
    """
    if callable(value) and not isinstance(value, (jax.Array, np.ndarray)):
        if not schedulable:
            raise ValueError(f"{name} must be a number, got the function {value!r}")
        return check_schedule(name, value)
    if not is_concrete(value):
        dtype = value.dtype
        if not (jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer)):
            raise ValueError(f"{name} must be a real number, got a traced {dtype} value")
        if value.ndim:
            raise ValueError(
                f"{name} must be a scalar, got a traced array of shape {value.shape} "
                "(under vmap, map over it instead)"
            )
        return value
    values = as_float64(name, value)
    if values.ndim:
        raise ValueError(
            f"{name} must be a scalar, got an array of shape {values.shape}: {value!r} "
            "(to sweep several values, jax.vmap over the optimizer's construction)"
        )
    if not np.isfinite(values):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def check_schedule(name: str, schedule: Callable) -> Any:
    try:
        value = schedule(jnp.zeros([], jnp.int32))
    except Exception as error:  # noqa: BLE001 - the schedule is user code; name it
        raise ValueError(
            f"{name} is a function, so it must be a schedule of the step count; calling it "
            f"with count 0 raised {type(error).__name__}: {error}"
        ) from error
    if callable(value) and not isinstance(value, (jax.Array, np.ndarray)):
        raise ValueError(f"{name} schedule must return a number at count 0, got {value!r}")
    return check_number(f"{name} (the schedule's value at count 0)", value, schedulable=False)


def check_inexact_leaves(tree: Any, argument: str) -> None:
    """Raise ``TypeError`` naming the first leaf that is neither real nor complex floating."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        dtype = leaf_dtype(leaf)
        if not jnp.issubdtype(dtype, jnp.inexact):
            raise TypeError(
                f"{argument} leaf at {path_text(path)} has dtype "
                f"{dtype}; optimizers need floating-point (or complex) leaves (cast it, or "
                "keep it out of the optimized tree)"
            )


def leaf_dtype(leaf: Any) -> np.dtype:
    dtype = getattr(leaf, "dtype", None)
    return np.dtype(dtype) if dtype is not None else jnp.result_type(leaf)


def path_text(path: Any) -> str:
    return jax.tree_util.keystr(path) or "<root>"


def check_same_structure(grads: Any, state_tree: Any, argument: str) -> None:
    grads_structure = jax.tree.structure(grads)
    state_structure = jax.tree.structure(state_tree)
    if grads_structure != state_structure:
        raise ValueError(
            f"{argument} do not have the tree structure the optimizer state was built "
            f"for.\n  {argument}: {grads_structure}\n  state:  {state_structure}"
        )


@jax.tree_util.register_static
@dataclasses.dataclass(frozen=True)
class TreeStructure:
    """The params' tree structure, kept in a state's ``structure`` field as static data.

    A pytree node with no children: jit compares and hashes it whole, and a step
    rebuilds nothing per leaf (a placeholder node per array cost SGD 12% of its
    step at 1,000 leaves, against optax).
    """

    treedef: jax.tree_util.PyTreeDef


def tree_structure(tree: Any) -> TreeStructure:
    """``tree``'s structure, as a state field: no data."""
    return TreeStructure(jax.tree.structure(tree))


def check_tree_structure(grads: Any, expected: TreeStructure) -> None:
    """Raise ``ValueError`` unless ``grads`` has the structure ``expected`` holds."""
    grads_structure = jax.tree.structure(grads)
    if grads_structure != expected.treedef:
        raise ValueError(
            "grads do not have the tree structure the optimizer state was built for.\n"
            f"  grads: {grads_structure}\n  state:  {expected.treedef}"
        )


def check_same_shapes(grads: Any, other_leaves: list, other: str) -> None:
    """Raise ``ValueError`` naming the first grads leaf whose shape is not ``other``'s.

    Without it a ``()`` gradient broadcasts silently against a ``(3,)`` moment.
    """
    grads_with_paths = jax.tree_util.tree_flatten_with_path(grads)[0]
    for (path, grad), other_leaf in zip(grads_with_paths, other_leaves, strict=True):
        if jnp.shape(grad) != jnp.shape(other_leaf):
            raise ValueError(
                f"grads leaf at {path_text(path)} has shape "
                f"{jnp.shape(grad)}; {other} has {jnp.shape(other_leaf)}"
            )


def check_state_shapes(grads: Any, state_leaves: list, value: Any, field: str) -> None:
    """Raise ``ValueError`` naming the first grads leaf that does not fit its state leaf.

    A state field filled with a number must be shaped like the grad; one built
    by ``value(param)`` must have the shape ``value(grad)`` would have.
    """
    if not callable(value):
        check_same_shapes(grads, state_leaves, f"the optimizer state's {field}")
        return
    for (path, grad), state_leaf in zip(
        jax.tree_util.tree_flatten_with_path(grads)[0], state_leaves, strict=True
    ):
        expected = jax.eval_shape(value, jnp.asarray(grad)).shape
        if expected != jnp.shape(state_leaf):
            raise ValueError(
                f"grads leaf at {path_text(path)} has shape {jnp.shape(grad)}, which needs the "
                f"optimizer state's {field} shaped {expected}; it has {jnp.shape(state_leaf)}"
            )


def check_state_dtype(state_dtype: Any) -> None:
    if state_dtype is None:
        return
    try:
        dtype = jnp.dtype(state_dtype)
    except TypeError:
        dtype = None
    if dtype is None or not jnp.issubdtype(dtype, jnp.inexact):
        raise ValueError(
            f"state_dtype must be a floating-point or complex dtype, got {state_dtype!r}"
        )


def check_switch(name: str, value: Any) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")


# --------------------------------------------------------------------------- dtypes


def working_dtype(dtype_of_leaf: Any, state_dtype: Any) -> np.dtype:
    """The dtype a leaf's rule runs in: ``state_dtype`` (complex if the leaf is), or its own."""
    dtype_of_leaf = np.dtype(dtype_of_leaf)
    if state_dtype is None:
        return dtype_of_leaf
    if jnp.issubdtype(dtype_of_leaf, jnp.complexfloating):
        return np.dtype(jnp.promote_types(state_dtype, jnp.complex64))
    return np.dtype(state_dtype)


def real_dtype(dtype: Any) -> np.dtype:
    return np.dtype(jnp.finfo(dtype).dtype)


# --------------------------------------------------------------------------- declarations


def _optional(parameter: inspect.Parameter) -> bool:
    """An argument that defaults to ``None``, or is annotated ``... | None``, may be ``None``."""
    return parameter.default is None or "None" in str(parameter.annotation)


def _schedulable(parameter: inspect.Parameter) -> bool:
    """An argument annotated ``ScalarOrSchedule`` (or ``Schedule``) may be a function."""
    return "Schedule" in str(parameter.annotation)


def hyperparameters(*names: str) -> Callable[[Callable], Callable]:
    """Declare, and validate, the arguments of an optimizer that are numbers a sweep may vary.

    ``@hyperparameters("learning_rate", "momentum")`` above an optimizer
    records the names as its ``hyperparameters`` attribute: the arguments that
    may be Python numbers, JAX arrays or tracers (so ``jax.vmap`` can sweep
    them), as opposed to switches (``eps_hat``, ``centered``) and dtypes.
    ``jaxopt_lab.grid.hyperparameter_names`` reads this list (for sweeps and the
    command line), and nothing else.

    Every call of the decorated optimizer validates the declared arguments
    (see the module docstring): a real, finite scalar (``None`` where that is
    the default or the annotation allows it), or a schedule where the argument is annotated
    ``ScalarOrSchedule``; and its ``init`` rejects a value that is not finite
    in the working dtype of a leaf.
    """

    def declare(make_optimizer: Callable) -> Callable:
        signature = inspect.signature(make_optimizer)
        parameters = signature.parameters
        unknown = [name for name in names if name not in parameters]
        if unknown:
            raise TypeError(f"{make_optimizer.__name__} has no argument {unknown[0]!r}")

        @functools.wraps(make_optimizer)
        def build(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            values = {}
            for name in names:
                value = bound.arguments[name]
                if value is None and _optional(parameters[name]):
                    continue
                values[name] = check_number(name, value, schedulable=_schedulable(parameters[name]))
            state_dtype = bound.arguments.get("state_dtype")
            check_state_dtype(state_dtype)
            for name, value in values.items():
                check_finite_in_build_dtype(name, value, state_dtype)
            transformation = make_optimizer(*args, **kwargs)
            return _checking_init(transformation, values, state_dtype)

        build.hyperparameters = tuple(names)
        return build

    return declare


def build_dtype(state_dtype: Any) -> np.dtype:
    """The widest real dtype a hyperparameter can be used in, known when the optimizer is
    built: ``state_dtype``'s (its real part), else JAX's default float (float32 unless
    ``jax_enable_x64``). ``init`` checks each leaf's own dtype later."""
    if state_dtype is not None:
        return real_dtype(jnp.dtype(state_dtype))
    return np.dtype(jnp.result_type(float))


def check_finite_in_build_dtype(name: str, value: Any, state_dtype: Any) -> None:
    """Raise ``ValueError`` if a concrete ``value`` is not finite in :func:`build_dtype`
    (``sgd(1e39)``: 1e39 is inf in float32)."""
    if not is_concrete(value) or callable(value):
        return
    dtype = build_dtype(state_dtype)
    with np.errstate(over="ignore"):
        cast = np.asarray(np.asarray(value, np.float64).astype(dtype), np.float64)
    if not np.all(np.isfinite(cast)):
        where = "state_dtype" if state_dtype is not None else "JAX's default float"
        raise ValueError(
            f"{name}={value!r} is not finite in {dtype.name}, {where} (largest "
            f"{dtype.name}: {float(jnp.finfo(dtype).max):.4g})"
        )


def _checking_init(
    transformation: optax.GradientTransformation, values: dict[str, Any], state_dtype: Any
) -> optax.GradientTransformationExtraArgs:
    """``transformation`` whose ``init`` first checks ``values`` in each leaf's working dtype."""
    concrete = {name: value for name, value in values.items() if is_concrete(value)}

    def init(params):
        seen = set()
        for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
            dtype_of_leaf = leaf_dtype(leaf)
            if not jnp.issubdtype(dtype_of_leaf, jnp.inexact):
                continue  # the plumbing names this leaf
            dtype = real_dtype(working_dtype(dtype_of_leaf, state_dtype))
            if dtype in seen:
                continue
            seen.add(dtype)
            for name, value in concrete.items():
                with np.errstate(over="ignore"):
                    cast = np.asarray(np.asarray(value, np.float64).astype(dtype), np.float64)
                if not np.all(np.isfinite(cast)):
                    raise ValueError(
                        f"{name}={value!r} is not finite in {dtype.name}, the working dtype "
                        f"of params leaf at {path_text(path)} (largest {dtype.name}: "
                        f"{float(jnp.finfo(dtype).max):.4g})"
                    )
        return transformation.init(params)

    return optax.GradientTransformationExtraArgs(init, transformation.update)
