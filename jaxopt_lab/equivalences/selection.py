"""Choosing rows of the equivalence table, and checking every chosen row in every dtype.

The rows live in the family modules; :mod:`.check` builds both sides of one row
and judges it. This module is what ``jaxopt-lab check`` calls.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from jaxopt_lab import optimizers
from jaxopt_lab.equivalences.check import (
    DTYPES,
    LIBRARIES,
    STEPS,
    CheckResult,
    Equivalence,
    check_row,
)


def available_libraries() -> list[str]:
    """The libraries of the table that are importable here (seed and optax always are)."""
    found = ["tutorial", "optax"]
    found += [name for name in ("torch", "keras") if importlib.util.find_spec(name) is not None]
    return found


def optimizer_order() -> list[str]:
    """Lab optimizers in the order the table prints them (``OPTIMIZERS``'s order)."""
    return list(optimizers.OPTIMIZERS)


def select(
    rows: Iterable[Equivalence],
    *,
    optimizers_wanted: Sequence[str] | None = None,
    libraries: Sequence[str] | None = None,
) -> list[Equivalence]:
    """The rows of the given optimizers and libraries (all if ``None``), in table order.

    Raises ``ValueError`` naming an unknown optimizer or library and the valid ones.
    """
    rows = list(rows)
    order = optimizer_order()
    for wanted, valid, what in (
        (optimizers_wanted, order, "optimizer"),
        (libraries, LIBRARIES, "library"),
    ):
        unknown = sorted(set(wanted or ()) - set(valid))
        if unknown:
            raise ValueError(f"unknown {what} {unknown[0]!r}; choose from {', '.join(valid)}")
    chosen = [
        row
        for row in rows
        if (not optimizers_wanted or row.optimizer in optimizers_wanted)
        and (not libraries or row.library in libraries)
    ]
    position = {name: index for index, name in enumerate(order)}
    return sorted(
        chosen,
        key=lambda row: (position.get(row.optimizer, len(order)), LIBRARIES.index(row.library)),
    )


def check_rows(
    rows: Iterable[Equivalence],
    steps: int = STEPS,
    *,
    dtypes: Sequence[Any] = DTYPES,
    on_result: Callable[[CheckResult], None] | None = None,
    updates: bool = False,
) -> list[CheckResult]:
    """Check every row in every dtype (the other side is skipped if its library is missing).

    ``on_result`` is called with each result as it comes (a progress display);
    ``updates`` also measures the updates (see :func:`check_row`).
    """
    libraries = set(available_libraries())
    results = []
    for row in rows:
        if row.library not in libraries or row.other is None:
            continue
        for dtype in dtypes:
            result = check_row(row, dtype, steps=steps, updates=updates)
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results
