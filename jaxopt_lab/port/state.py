"""Move a half-trained torch optimizer's state to its optax port, and back::

    optimizer_jax, state = port.state_from_torch(torch_optimizer, scheduler, like=params,
                                                 group_of=group_of, steps=10_000)
    ...                                            # train on in JAX
    port.state_to_torch(state, torch_optimizer, scheduler, like=params, group_of=group_of)

:func:`state_from_torch` ports the optimizer as :func:`~jaxopt_lab.port.from_torch`
does (the same transformation, read from the stepped optimizer) and fills the
state that transformation's ``init(like)`` builds: each lab state's moments
from torch's per-param state (``exp_avg`` -> ``first_moment``, ...), optax's
``trace`` from ``momentum_buffer``, every step count from torch's ``step``;
the schedule's position is the count (the port's schedules are tables indexed
by it), checked against the scheduler's ``last_epoch``. :func:`state_to_torch`
writes the moments and the step back into ``optimizer.state`` and steps the
scheduler forward to the count, as torch would have stepped it.

The i-th leaf of ``like`` (in ``jax.tree`` order) that ``group_of`` puts in
group g is torch's i-th param of ``param_groups[g]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxopt_lab.port.errors import PortError
from jaxopt_lab.port.groups import group_labels

FIELDS: dict[str, dict[str, str]] = {
    "SGD": {"trace": "momentum_buffer"},
    "Adam": {
        "first_moment": "exp_avg",
        "second_moment": "exp_avg_sq",
        "max_second_moment": "max_exp_avg_sq",
    },
    "AdamW": {
        "first_moment": "exp_avg",
        "second_moment": "exp_avg_sq",
        "max_second_moment": "max_exp_avg_sq",
    },
    "Adamax": {"first_moment": "exp_avg", "infinity_norm": "exp_inf"},
    "NAdam": {
        "first_moment": "exp_avg",
        "second_moment": "exp_avg_sq",
        "momentum_product": "mu_product",
    },
    "RAdam": {"first_moment": "exp_avg", "second_moment": "exp_avg_sq"},
    "Adagrad": {"sum_of_squares": "sum"},
    "RMSprop": {
        "mean_square": "square_avg",
        "mean_gradient": "grad_avg",
        "trace": "-momentum_buffer",
    },
    "Adadelta": {"mean_square": "square_avg", "mean_square_delta": "acc_delta"},
    "Rprop": {"step_size": "step_size", "previous_gradient": "prev"},
    "Adafactor": {"row_moment": "row_var", "column_moment": "col_var", "second_moment": "variance"},
}
"""Per torch optimizer: the port's state field -> torch's per-param state key (``-key``:
the field holds its negative; the port's RMSprop momentum accumulates ``-g/avg`` and
scales by ``+lr``, torch's ``g/avg`` and subtracts)."""


def _key(key: str) -> tuple[str, float]:
    return (key[1:], -1.0) if key.startswith("-") else (key, 1.0)


_STEPLESS = frozenset({"SGD"})
"""Optimizers whose torch state keeps no step count."""


def is_hole(node: Any) -> bool:
    """Whether a state leaf stands for no array: ``None``, or a leaf another group holds."""
    return node is None or isinstance(node, optax.MaskedNode)


def _torch_params(optimizer: Any, like: Any, group_of: Any) -> list[Any]:
    """torch's param for each leaf of ``like``, in ``jax.tree`` order."""
    leaves = jax.tree.leaves(like)
    groups = optimizer.param_groups
    if len(groups) > 1 and group_of is None:
        raise ValueError(
            f"this torch optimizer has {len(groups)} param groups: give group_of (as to from_torch)"
        )
    labels = (
        [0] * len(leaves) if group_of is None else jax.tree.leaves(group_labels(group_of, like))
    )
    if len(labels) != len(leaves):
        raise ValueError(f"group_of gives {len(labels)} labels for {len(leaves)} leaves of like")
    taken = [0] * len(groups)
    params = []
    for index, (leaf, label) in enumerate(zip(leaves, labels, strict=True)):
        group = groups[int(label)]["params"]
        if taken[label] >= len(group):
            raise ValueError(
                f"like has more leaves in group {label} than torch's param group {label} "
                f"holds ({len(group)})"
            )
        param = group[taken[label]]
        taken[label] += 1
        if tuple(param.shape) != tuple(np.shape(leaf)):
            raise ValueError(
                f"leaf {index} of like has shape {tuple(np.shape(leaf))} but torch's param "
                f"{taken[label] - 1} of group {label} has shape {tuple(param.shape)}"
            )
        params.append(param)
    for label, group in enumerate(groups):
        if taken[label] != len(group["params"]):
            raise ValueError(
                f"torch's param group {label} holds {len(group['params'])} params but like "
                f"has {taken[label]} leaves in it"
            )
    return params


def _step_of(
    name: str, optimizer: Any, params: list[Any], scheduler: Any, every: int, step: int | None
) -> int:
    """The number of optimizer steps taken, from torch's state (or ``step``)."""
    steps = {
        int(float(optimizer.state[p]["step"]))
        for p in params
        if "step" in optimizer.state.get(p, {})
    }
    if len(steps) > 1:
        raise PortError(
            f"torch.optim.{name}'s params have taken different numbers of steps "
            f"({sorted(steps)}): one optax count cannot hold them"
        )
    if steps:
        found = steps.pop()
        if step is not None and step != found:
            raise ValueError(f"step={step} but torch's state says {found} steps")
        return found
    if step is not None:
        return int(step)
    if name in _STEPLESS:
        if scheduler is not None:
            return int(scheduler.last_epoch) * every
        if any(optimizer.state.get(p) for p in params):
            raise PortError(
                f"torch.optim.{name} keeps no step count: give step= (the optimizer steps taken)"
            )
    return 0


def _check_schedule(scheduler: Any, step: int, every: int) -> None:
    if scheduler is not None and scheduler.last_epoch != step // every:
        raise PortError(
            f"the {type(scheduler).__name__} is at last_epoch={scheduler.last_epoch} but the "
            f"optimizer took {step} steps (scheduler_every={every}): the schedule's position "
            "is the step count in the port, and these disagree"
        )


def map_state_fields(node: Any, on_field: Callable[[str, Any], Any], on_count: Callable) -> Any:
    """Rebuild a state tree, replacing each mapped field with ``on_field(name, value)`` and
    each ``count`` with ``on_count(value)``."""
    if isinstance(node, tuple) and hasattr(node, "_fields"):
        values = {}
        for name, value in zip(node._fields, node, strict=True):
            if name == "count":
                values[name] = on_count(value)
            else:
                replaced = on_field(name, value)
                if replaced is None:
                    replaced = map_state_fields(value, on_field, on_count)
                values[name] = replaced
        return type(node)(**values)
    if isinstance(node, (list, tuple)):
        return type(node)(map_state_fields(item, on_field, on_count) for item in node)
    if isinstance(node, dict):
        return {key: map_state_fields(value, on_field, on_count) for key, value in node.items()}
    return node


def leaves_with_holes(tree: Any) -> tuple[list[Any], Any]:
    """A state field's leaves, one per leaf of the params (holes included), and its treedef."""
    return jax.tree.flatten(tree, is_leaf=is_hole)


def _to_array(value: Any, template: Any) -> jax.Array:
    array = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value)
    if array.size != np.size(template):
        raise PortError(
            f"torch's state has {array.size} values where the port's has {np.size(template)}"
        )
    return jnp.asarray(array.reshape(np.shape(template)), dtype=jnp.result_type(template))


def state_from_torch(
    optimizer: Any,
    scheduler: Any = None,
    *,
    like: Any,
    group_of: Any = None,
    step: int | None = None,
    **port_options: Any,
) -> tuple[optax.GradientTransformation, Any]:
    """A stepped torch optimizer (and scheduler) as its optax port and that port's state.

    Args:
      optimizer: the live ``torch.optim`` optimizer, after any number of steps.
      scheduler: its live scheduler, or None; its ``last_epoch`` must be the step
        count (divided by ``scheduler_every``).
      like: the params (a pytree of arrays shaped as torch's params; see the module
        docstring for the order), in the dtype the JAX run will use.
      group_of: with several param groups, as for :func:`~jaxopt_lab.port.from_torch`.
      step: the optimizer steps taken, for an optimizer whose state keeps no count
        (SGD without a scheduler); checked against torch's count otherwise.
      port_options: :func:`~jaxopt_lab.port.from_torch`'s other options
        (``steps``, ``clip_grad_norm``, ``scheduler_every``, ...).

    Returns:
      ``(transformation, state)``, the pair and not the state alone:
      ``transformation.update(grads, state, params)`` takes torch's next step. The
      transformation is the port read from the *stepped* optimizer and scheduler (its
      schedule tabulated from the start; :func:`~jaxopt_lab.port.from_torch` refuses a
      stepped optimizer, whose moments it would drop), and the state is that
      transformation's ``init(like)`` filled in: the two belong together.

    Raises:
      PortError: a state that cannot be moved exactly (named).
    """
    from jaxopt_lab.port.torch_optimizers import torch_recipe

    name = type(optimizer).__name__
    if name not in FIELDS:
        raise PortError(f"the state of torch.optim.{name} cannot be moved: it is not ported")
    every = int(port_options.get("scheduler_every", 1))
    params = _torch_params(optimizer, like, group_of)
    count = _step_of(name, optimizer, params, scheduler, every, step)
    _check_schedule(scheduler, count, every)
    recipe = torch_recipe(optimizer, scheduler, group_of=group_of, stepped=True, **port_options)
    transformation = recipe.build()
    template = transformation.init(like)
    keys = FIELDS[name]
    states = [optimizer.state.get(p, {}) for p in params]

    def on_field(field: str, value: Any) -> Any:
        if field not in keys or is_hole(value):
            return None
        leaves, treedef = leaves_with_holes(value)
        if len(leaves) != len(states):
            return None
        filled = []
        for leaf, torch_state in zip(leaves, states, strict=True):
            if is_hole(leaf):
                filled.append(leaf)
            elif _key(keys[field])[0] in torch_state:
                key, sign = _key(keys[field])
                filled.append(sign * _to_array(torch_state[key], leaf))
            elif count == 0 or np.size(leaf) == 0:
                filled.append(leaf)
            else:
                raise PortError(
                    f"torch.optim.{name}'s state has no {_key(keys[field])[0]!r} for a param after "
                    f"{count} steps"
                )
        return treedef.unflatten(filled)

    def on_count(value: Any) -> jax.Array:
        return jnp.asarray(count, jnp.result_type(value))

    return transformation, map_state_fields(template, on_field, on_count)


def _fields_of(state: Any, keys: dict[str, str], size: int) -> tuple[dict[str, list], set]:
    """Per mapped field, its leaves (holes where a group does not hold the leaf), and counts."""
    found: dict[str, list] = {}
    counts: set = set()

    def on_field(field, value):
        if field in keys and not is_hole(value):
            leaves, _ = leaves_with_holes(value)
            if len(leaves) == size:
                merged = found.setdefault(field, [None] * size)
                for index, leaf in enumerate(leaves):
                    if not is_hole(leaf):
                        merged[index] = leaf
                return value
        return None

    def on_count(value):
        counts.add(int(value))
        return value

    map_state_fields(state, on_field, on_count)
    return found, counts


def state_to_torch(
    state: Any,
    optimizer: Any,
    scheduler: Any = None,
    *,
    like: Any,
    group_of: Any = None,
    scheduler_every: int = 1,
) -> int:
    """Load a port's state (from :func:`state_from_torch`, or its updates) into torch.

    Writes each param's moments and step into ``optimizer.state`` (in the param's
    dtype), and steps ``scheduler`` (which must not be ahead) forward to the count,
    so that torch's next ``step()`` is the port's next update. Returns the count.
    """
    name = type(optimizer).__name__
    if name not in FIELDS:
        raise PortError(f"the state of torch.optim.{name} cannot be moved: it is not ported")
    import torch
    from torch.optim.optimizer import _get_scalar_dtype

    params = _torch_params(optimizer, like, group_of)
    keys = FIELDS[name]
    found, counts = _fields_of(state, keys, len(params))
    if len(counts) != 1:
        raise PortError(f"the state holds step counts {sorted(counts)}, not one count")
    count = counts.pop()
    for index, param in enumerate(params):
        torch_state = optimizer.state[param]
        if count == 0:
            torch_state.clear()
            continue
        for field, leaves in found.items():
            leaf = leaves[index]
            if leaf is None:
                continue
            key, sign = _key(keys[field])
            array = sign * np.asarray(leaf)
            if field == "momentum_product":
                value = torch.tensor(float(array), dtype=_get_scalar_dtype())
            else:
                if array.size == 0:
                    continue
                target = torch_state.get(key)
                shape = (
                    tuple(target.shape)
                    if target is not None
                    else _torch_shape(key, tuple(param.shape))
                )
                value = torch.from_numpy(array.reshape(shape).copy()).to(param.dtype)
            torch_state[key] = value
        if name not in _STEPLESS:
            torch_state["step"] = torch.tensor(float(count), dtype=_get_scalar_dtype())
    if scheduler is not None:
        target_epoch = count // int(scheduler_every)
        if scheduler.last_epoch > target_epoch:
            raise PortError(
                f"the {type(scheduler).__name__} is at last_epoch={scheduler.last_epoch}, past "
                f"the state's {target_epoch}: give a scheduler that has not stepped further"
            )
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            while scheduler.last_epoch < target_epoch:
                scheduler.step()
    return count


def _torch_shape(key: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape torch gives a state entry it has not made yet (Adafactor's factors)."""
    if key == "row_var":
        return (*shape[:-1], 1)
    if key == "col_var":
        return (*shape[:-2], 1, shape[-1])
    return shape
