"""Parameter groups: torch's ``param_groups`` as one optax transformation per group."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np
import optax

GroupOf = Any
"""A pytree of group indices shaped like the params (or a prefix of them), or a
function of a leaf's key path (``jax.tree_util`` keys) returning its index."""


def group_labels(group_of: GroupOf, params: Any) -> Any:
    """The pytree of group indices for ``params``."""
    if callable(group_of):
        return jax.tree_util.tree_map_with_path(lambda path, _: group_of(path), params)
    return group_of


def param_groups(
    transforms: Sequence[optax.GradientTransformation], group_of: GroupOf
) -> optax.GradientTransformation:
    """``transforms[i]`` updates the leaves whose group (from ``group_of``) is ``i``.

    Built on ``optax.partition``; checks at ``init`` that every index names a
    transformation and says which leaf does not.
    """
    transforms = list(transforms)
    if not transforms:
        raise ValueError("param_groups needs at least one transformation")
    labels_of: Callable[[Any], Any] = (
        (lambda params: group_labels(group_of, params)) if callable(group_of) else group_of
    )
    partitioned = optax.partition(dict(enumerate(transforms)), labels_of)

    def init(params):
        labels = group_labels(group_of, params)
        for path, label in jax.tree_util.tree_flatten_with_path(labels)[0]:
            valid = isinstance(label, (int, np.integer)) and not isinstance(label, bool)
            if not valid or not 0 <= label < len(transforms):
                raise ValueError(
                    f"group_of gives {label!r} for the leaf at "
                    f"{jax.tree_util.keystr(path) or '<root>'}; expected a group index in "
                    f"[0, {len(transforms)})"
                )
        return partitioned.init(params)

    return optax.GradientTransformation(init, partitioned.update)
