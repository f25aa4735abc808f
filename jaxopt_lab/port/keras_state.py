"""Move a half-trained Keras 3 optimizer's state to its optax port, and back.

    optimizer_jax, state = port.state_from_keras(keras_optimizer, like=params)
    ...                                            # train on in JAX
    port.state_to_keras(state, keras_optimizer, like=params)

The i-th leaf of ``like`` (in ``jax.tree`` order) is the i-th variable the Keras
optimizer was built with. The port is :func:`~jaxopt_lab.port.from_keras`'s;
its state is filled from the optimizer's slot variables (``_momentums`` ->
``first_moment``, ...) and every step count from ``iterations``; a Keras
schedule's position is that count, in Keras as in the port. Every optimizer the
Keras port covers moves: ``ScheduleFreeAdamW``'s variables are its ``y`` (the port's
params) and its slots ``z`` and ``v``, the averaging weights Keras does not keep are
replayed (:data:`REPLAYED`); ``Muon``'s ``momentums`` are its Muon buffers and its Adam
first moments, ``adam_velocities`` the Adam second moments.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxopt_lab.port.errors import PortError
from jaxopt_lab.port.state import is_hole, leaves_with_holes, map_state_fields

SLOTS: dict[str, dict[str, str]] = {
    "SGD": {"velocity": "momentums"},
    "Adam": {
        "first_moment": "_momentums",
        "second_moment": "_velocities",
        "max_second_moment": "_velocity_hats",
    },
    "AdamW": {
        "first_moment": "_momentums",
        "second_moment": "_velocities",
        "max_second_moment": "_velocity_hats",
    },
    "Adagrad": {"sum_of_squares": "_accumulators"},
    "RMSprop": {
        "mean_square": "_velocities",
        "mean_gradient": "_average_gradients",
        "velocity": "_momentums",
    },
    "Adamax": {"first_moment": "_m", "infinity_norm": "_u"},
    "Nadam": {
        "first_moment": "_momentums",
        "second_moment": "_velocities",
        "momentum_product": "_u_product",
    },
    "Adadelta": {
        "mean_square": "_accumulated_grads",
        "mean_square_delta": "_accumulated_delta_vars",
    },
    "Lion": {"momentum": "_momentums"},
    "Lamb": {"first_moment": "_momentums", "second_moment": "_velocities"},
    "Adafactor": {"row_moment": "_r", "column_moment": "_c", "second_moment": "_v"},
    "ScheduleFreeAdamW": {"z": "_momentums", "second_moment": "_velocities"},
    "Muon": {
        "momentum": "momentums",
        "second_moment": "adam_velocities",
        "first_moment": "momentums",  # the Adam group of exclude_embeddings
    },
}
"""Per Keras optimizer: the port's state field -> the Keras attribute holding its slots (one
variable per model variable, in the order it was built with; Nadam's ``_u_product`` is one
scalar for all). Keras's ScheduleFreeAdamW variables are the schedule-free ``y``, as the
port's params are, and its ``_momentums`` the ``z``. Keras Muon keeps one ``momentums`` list
for its Muon buffers (matrices) and its Adam first moments (the other leaves), and
``adam_velocities`` only for the latter, as the port's ``muon`` state does."""

REPLAYED = {"ScheduleFreeAdamW": ("weight_sum", "max_step_size")}
"""Per Keras optimizer: the port's state fields Keras does not keep because they are
functions of the step count and the schedule alone (the schedule-free averaging weights;
Keras averages with ``c = 1/t``): :func:`state_from_keras` replays the port itself for the
count on a scalar, and :func:`state_to_keras` checks that the state it moves holds them."""


def _check(optimizer: Any, like: Any) -> tuple[str, list]:
    name = type(optimizer).__name__
    if name not in SLOTS:
        raise PortError(f"the state of keras.optimizers.{name} cannot be moved: it is not ported")
    if not optimizer.built:
        raise ValueError(
            f"this keras.optimizers.{name} is not built: build it on the variables "
            "first (optimizer.build(variables), or one apply)"
        )
    leaves = jax.tree.leaves(like)
    variables = optimizer._trainable_variables
    if len(variables) != len(leaves):
        raise ValueError(
            f"like has {len(leaves)} leaves but the Keras optimizer was built "
            f"with {len(variables)} variables"
        )
    for index, (leaf, variable) in enumerate(zip(leaves, variables, strict=True)):
        if tuple(np.shape(leaf)) != tuple(variable.shape):
            raise ValueError(
                f"leaf {index} of like has shape {tuple(np.shape(leaf))} but Keras's "
                f"variable {variable.path!r} has shape {tuple(variable.shape)}"
            )
    return name, leaves


def _slot(optimizer: Any, attribute: str, index: int) -> Any:
    slots = getattr(optimizer, attribute, None)
    if slots is None:
        return None
    if not isinstance(slots, (list, tuple)):  # Nadam's one u_product for every variable
        return slots
    return slots[index] if index < len(slots) else None


def _replayed(
    transformation: optax.GradientTransformation, fields: tuple[str, ...], count: int, dtype: Any
) -> dict[str, jax.Array]:
    """What the port's own update leaves in ``fields`` after ``count`` steps, replayed on one
    scalar param of ``dtype`` (the fields depend on the count and the schedule only)."""
    if not fields:
        return {}
    param = jnp.zeros((), dtype)

    def step(state, _):
        _, state = transformation.update(jnp.zeros((), dtype), state, param)
        return state, None

    state, _ = jax.lax.scan(step, transformation.init(param), None, length=count)
    found: dict[str, jax.Array] = {}

    def on_field(field: str, value: Any) -> None:
        if field in fields and not is_hole(value):
            found[field] = value

    map_state_fields(state, on_field, lambda value: value)
    return found


def state_from_keras(optimizer: Any, *, like: Any) -> tuple[optax.GradientTransformation, Any]:
    """A stepped Keras optimizer as its optax port and that port's state.

    Args:
      optimizer: the built Keras optimizer, after any number of steps.
      like: the params, shaped as the variables it was built with, in their order
        (``jax.tree`` order), in the dtype the JAX run will use.

    Returns:
      ``(transformation, state)``, as :func:`~jaxopt_lab.port.state_from_torch`:
      ``transformation.update(grads, state, params)`` takes Keras's next step, and the
      state is that transformation's ``init(like)`` filled in.

    Raises:
      PortError: an optimizer whose state cannot be moved (named).
    """
    from jaxopt_lab.port.keras_optimizers import keras_recipe

    name, leaves = _check(optimizer, like)
    transformation = keras_recipe(optimizer).build()
    template = transformation.init(like)
    count = int(np.asarray(optimizer.iterations.value))
    slots = SLOTS[name]
    replayed = _replayed(transformation, REPLAYED.get(name, ()), count, jnp.result_type(leaves[0]))

    def on_field(field: str, value: Any) -> Any:
        if field in replayed and not is_hole(value):
            return jax.tree.map(
                lambda leaf: jnp.asarray(replayed[field], jnp.result_type(leaf)), value
            )
        if field not in slots or is_hole(value):
            return None
        field_leaves, treedef = leaves_with_holes(value)
        if len(field_leaves) != len(leaves):
            return None
        filled = []
        for index, leaf in enumerate(field_leaves):
            slot = _slot(optimizer, slots[field], index)
            if is_hole(leaf) or np.size(leaf) == 0 or slot is None:
                filled.append(leaf)
                continue
            array = np.asarray(slot.value)
            if array.size != np.size(leaf):
                raise PortError(
                    f"keras.optimizers.{name}'s {slot.path!r} holds {array.size} values where "
                    f"the port's {field} holds {np.size(leaf)}"
                )
            filled.append(jnp.asarray(array.reshape(np.shape(leaf)), jnp.result_type(leaf)))
        return treedef.unflatten(filled)

    def on_count(value: Any) -> jax.Array:
        return jnp.asarray(count, jnp.result_type(value))

    return transformation, map_state_fields(template, on_field, on_count)


def state_to_keras(state: Any, optimizer: Any, *, like: Any) -> int:
    """Load a port's state (from :func:`state_from_keras`, or its updates) into Keras.

    Assigns each slot variable and ``iterations``, so that Keras's next step is the
    port's next update. Returns the count.
    """
    name, leaves = _check(optimizer, like)
    slots = SLOTS[name]
    counts: set[int] = set()
    written: list[tuple[str, list]] = []  # a field may recur (Muon and its Adam group)
    held: dict[str, list] = {}

    def on_field(field, value):
        if field in REPLAYED.get(name, ()) and not is_hole(value):
            held[field] = [leaf for leaf in jax.tree.leaves(value) if not is_hole(leaf)]
            return value
        if field in slots and not is_hole(value):
            field_leaves, _ = leaves_with_holes(value)
            if len(field_leaves) == len(leaves):
                written.append((field, field_leaves))
                return value
        return None

    def on_count(value):
        counts.add(int(value))
        return value

    map_state_fields(state, on_field, on_count)
    if len(counts) != 1:
        raise PortError(f"the state holds step counts {sorted(counts)}, not one count")
    count = counts.pop()
    if held:
        _check_replayed(name, optimizer, held, count, jnp.result_type(leaves[0]))
    for field, field_leaves in written:
        shared = {}
        for index, leaf in enumerate(field_leaves):
            slot = _slot(optimizer, slots[field], index)
            if is_hole(leaf) or np.size(leaf) == 0 or slot is None:
                continue
            array = np.asarray(leaf)
            if not isinstance(getattr(optimizer, slots[field]), (list, tuple)):
                shared[index] = array
                continue
            slot.assign(array.reshape(tuple(slot.shape)).astype(slot.dtype))
        if shared:
            values = {float(np.asarray(value).ravel()[0]) for value in shared.values()}
            if len(values) != 1:
                raise PortError(
                    f"keras.optimizers.{name} keeps one {slots[field]} for every variable, but "
                    f"the state holds {len(values)} different values"
                )
            slot = getattr(optimizer, slots[field])
            slot.assign(np.asarray(next(iter(shared.values()))).reshape(()).astype(slot.dtype))
    optimizer.iterations.assign(count)
    return count


def _check_replayed(name: str, optimizer: Any, held: dict, count: int, dtype: Any) -> None:
    """Refuse a state whose :data:`REPLAYED` fields are not what the Keras form holds after
    ``count`` steps: Keras keeps no such field, so it would take its next step otherwise."""
    from jaxopt_lab.port.keras_optimizers import keras_recipe

    expected = _replayed(keras_recipe(optimizer).build(), tuple(held), count, dtype)
    for field, values in held.items():
        want = np.asarray(expected[field])
        for value in values:
            if not np.array_equal(np.asarray(value, want.dtype), want):
                raise PortError(
                    f"keras.optimizers.{name} keeps no {field}; after {count} steps its form "
                    f"holds {want!r}, but the state holds {np.asarray(value)!r}: the state "
                    "is not this Keras optimizer's, and Keras would step otherwise"
                )
