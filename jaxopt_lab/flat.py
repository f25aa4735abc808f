"""The flat fast path: params and optimizer state as one flat buffer across steps.

Every lab optimizer but ``adafactor``, ``lamb`` and ``muon`` is elementwise, so
an optimizer applied to one flat vector that holds all the params computes,
element for element, the same arithmetic as on the pytree. Those three work
per leaf (a factored second moment, a trust ratio, the Newton-Schulz iteration
on matrices): on one flat vector they are other optimizers (as under
``optax.flatten``). The moments, and the params of optimizers whose step has no
division, are identical bit for bit; where the step divides, XLA:CPU's
shape-dependent rewrites (division by a broadcast scalar into multiplication by
its reciprocal, ``x / sqrt(y)`` into ``x * rsqrt(y)``) may round an element
differently in a scalar or rank-3 leaf than in a vector: at most 1 ulp, in a
few elements (``tests/test_flat.py`` checks both). What changes is the
compiled program. On a tree of many small leaves the pytree path compiles one
loop (or three) per leaf: optax Adam on 1,000 leaves compiles for seconds and
each step pays a per-leaf launch cost; on one flat buffer it is one loop,
compiled in a fraction of a second and bandwidth-bound at any leaf count.

Ravel once, keep the flat params and the optimizer state flat across steps,
and unravel only where the model needs the tree (inside the loss)::

    flat_params, unravel = flat.ravel(params)
    state = optimizer.init(flat_params)
    step = jax.jit(flat.train_step(optimizer, loss, unravel), donate_argnums=(0, 1))
    for batch in batches:
        flat_params, state, loss_value = step(flat_params, state, *batch)
    params = unravel(flat_params)

The gradient of ``loss(unravel(flat_params))`` with respect to the flat
vector is the concatenation of the per-leaf gradients (the transpose of the
slices in ``unravel``), so only the gradient is concatenated each step, inside
the same compiled program, never the params or the state.

:func:`flatten` wraps an optimizer for callers that keep a pytree of params
(e.g. an existing optax loop): its state is flat, and each ``update`` ravels
the gradients and unravels the updates (one concatenation and one split per
step). It equals ``optax.flatten`` but refuses mixed dtypes.

Mixed dtypes are refused, not promoted: promoting a bfloat16 leaf to float32
(as ``jax.flatten_util.ravel_pytree`` does) would change the numbers. Ravel
each dtype group separately if a model mixes them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax


@dataclass(frozen=True)
class Unravel:
    """Turns a flat vector back into the tree it was ravelled from.

    Calling it slices the vector at the leaf boundaries and reshapes each piece;
    under ``jit`` these are views fused into their consumers, and their
    gradient is the concatenation of the leaves' gradients.

    Attributes:
      treedef: the structure of the original tree.
      shapes: the shape of each leaf, in ``jax.tree.leaves`` order.
      dtype: the common dtype of the leaves (and of the flat vector).
      size: the number of elements of the flat vector.
    """

    treedef: Any
    shapes: tuple[tuple[int, ...], ...]
    dtype: np.dtype

    @property
    def size(self) -> int:
        return sum(math.prod(shape) for shape in self.shapes)

    def __call__(self, flat: jax.Array) -> Any:
        flat = jnp.asarray(flat)
        if flat.shape != (self.size,):
            raise ValueError(
                f"flat must have shape ({self.size},), the size of the ravelled tree; "
                f"got {flat.shape}"
            )
        if flat.dtype != self.dtype:
            raise TypeError(
                f"flat has dtype {flat.dtype} but the ravelled tree had {self.dtype}; "
                "casting here would change the numbers"
            )
        leaves, offset = [], 0
        for shape in self.shapes:
            size = math.prod(shape)
            leaves.append(jax.lax.slice(flat, (offset,), (offset + size,)).reshape(shape))
            offset += size
        return self.treedef.unflatten(leaves)


def _common_dtype(path_leaves: list[tuple[Any, Any]], argument: str) -> np.dtype:
    """The one dtype of the leaves; ``TypeError`` naming a few leaves of each if mixed."""
    by_dtype: dict[np.dtype, list[str]] = {}
    for path, leaf in path_leaves:
        name = jax.tree_util.keystr(path) or "<root>"
        by_dtype.setdefault(np.dtype(jnp.asarray(leaf).dtype), []).append(name)
    if len(by_dtype) > 1:
        shown = "; ".join(
            f"{dtype}: {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
            for dtype, names in by_dtype.items()
        )
        raise TypeError(
            f"{argument} leaves have mixed dtypes ({shown}); one flat buffer needs one dtype "
            "(promotion would change the numbers): ravel each dtype group separately or cast"
        )
    return next(iter(by_dtype))


def ravel(tree: Any) -> tuple[jax.Array, Unravel]:
    """Concatenate the leaves of ``tree`` into one flat vector.

    Args:
      tree: a pytree of arrays, all of one dtype (``None`` leaves are skipped,
        as in ``jax.tree.leaves``).

    Returns:
      ``(flat, unravel)``: ``flat`` of shape ``(total size,)`` holding the
      leaves in ``jax.tree.leaves`` order, and an :class:`Unravel` with
      ``unravel(flat)`` equal to ``tree``.

    Raises:
      ValueError: ``tree`` has no leaves.
      TypeError: the leaves have more than one dtype.
    """
    path_leaves, treedef = jax.tree_util.tree_flatten_with_path(tree)
    if not path_leaves:
        raise ValueError("tree has no array leaves to ravel")
    dtype = _common_dtype(path_leaves, "tree")
    leaves = [leaf for _, leaf in path_leaves]
    shapes = tuple(tuple(jnp.shape(leaf)) for leaf in leaves)
    pieces = [jnp.ravel(jnp.asarray(leaf)) for leaf in leaves]
    flat = pieces[0] if len(pieces) == 1 else jnp.concatenate(pieces)
    return flat, Unravel(treedef, shapes, dtype)


def flat_loss(loss: Callable[..., jax.Array], unravel: Unravel) -> Callable[..., jax.Array]:
    """``loss`` as a function of the flat params: ``lambda flat, *a: loss(unravel(flat), *a)``."""

    def loss_of_flat(flat_params: jax.Array, *args: Any, **kwargs: Any) -> jax.Array:
        return loss(unravel(flat_params), *args, **kwargs)

    return loss_of_flat


def train_step(
    optimizer: optax.GradientTransformation,
    loss: Callable[..., jax.Array],
    unravel: Unravel | None = None,
) -> Callable[..., tuple[jax.Array, Any, jax.Array]]:
    """One training step that keeps params and optimizer state flat.

    Returns a pure function ``step(params, state, *batch) -> (params, state,
    loss_value)`` that takes the gradient of ``loss(unravel(params), *batch)``
    with respect to the flat ``params`` and applies one optimizer update.
    Not jitted: wrap it, donating the params and state so the update is in
    place: ``jax.jit(step, donate_argnums=(0, 1))``.

    With ``unravel=None`` the same step runs on a pytree of params (the
    pytree path), which is what the flat path is compared against.
    """
    objective = loss if unravel is None else flat_loss(loss, unravel)

    def step(params: Any, state: Any, *batch: Any) -> tuple[Any, Any, jax.Array]:
        loss_value, grads = jax.value_and_grad(objective)(params, *batch)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss_value

    return step


def flatten(optimizer: optax.GradientTransformation) -> optax.GradientTransformation:
    """Wrap ``optimizer`` so its state is one flat buffer while params stay a pytree.

    ``init`` ravels the params and builds the inner state on the flat vector;
    ``update`` ravels ``grads`` (and ``params``), updates the flat state and
    unravels the updates. The numbers are those of ``optimizer`` on the tree.
    Each step concatenates the gradients and splits the updates, so
    :func:`train_step` with flat params is faster still; this wrapper is for
    loops that must hand the model a tree of params. Like ``optax.flatten``,
    but mixed dtypes raise ``TypeError`` instead of being promoted.
    """

    def init(params: Any) -> Any:
        flat_params, _ = ravel(params)
        return optimizer.init(flat_params)

    def update(grads: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        flat_grads, unravel = ravel(grads)
        flat_params = None
        if params is not None:
            if jax.tree.structure(params) != unravel.treedef:
                raise ValueError(
                    "params do not have the tree structure of grads.\n"
                    f"  grads:  {unravel.treedef}\n  params: {jax.tree.structure(params)}"
                )
            flat_params = ravel(params)[0]
        flat_updates, state = optimizer.update(flat_grads, state, flat_params)
        return unravel(flat_updates), state

    return optax.GradientTransformation(init, update)
