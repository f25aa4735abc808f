"""The equivalence table: which lab settings make which libraries agree, proven by running them.

Every row says: the lab optimizer with these settings, and another library's
optimizer (the tutorial's NumPy classes, optax, ``torch.optim``, Keras 3 on JAX)
with those, stay within a stated bound of each other over 1000 fixed N(0, 1)
gradients from N(0, 1) params, in float32 and in float64, or differ for a
documented reason. ``jaxopt-lab check`` prints the table
(:func:`render_markdown`), ``tests/equivalences/test_equivalences.py`` runs every row and
asserts that the table covers every pair of a lab optimizer and an installed
library that has it.

The format (to add rows)
------------------------
The rows live in one module per optimizer family beside this one (``sgd.py``,
``adaptive.py``, ``adam.py``, ...), each holding two names:

``ROWS``
    a tuple of :class:`Equivalence`: ``Equivalence(optimizer, library,
    lab_settings, other, other_settings, note=..., label=...)``, e.g.
    ``Equivalence("adam", "torch", {"eps": 1e-8, "eps_hat": False},
    "torch.optim.Adam", {"lr": 0.001})``. ``label`` says which family of
    settings it checks: each (optimizer, library) pair has a ``"defaults"``
    row (the library's defaults, and the lab settings that equal them), a
    ``"non-default"`` row (betas, eps, weight decay, momentum, ...) and, where
    the formula extends to complex numbers, ``"complex"`` rows in the
    library's convention. A row that rounds differently by design sets
    ``ulps_per_step`` and says why in its note; a row whose library cannot be
    matched (or is wrong) sets ``agrees=False`` and says why: its verdict is
    "differ (documented)", with the measured distance. Rarer needs have a
    field each (see :class:`Equivalence`): ``param_shapes`` (torch's Muon
    takes only matrices), ``float64_ulps_per_step`` (a library that computes
    part of a float64 step in float32), ``differs_above`` (a library followed
    only to its own rounding, torch's bfloat16 Muon), ``differs_below`` (the
    upper bound of a documented difference) or ``other_diverges`` (its
    cause makes the other side blow up; a test checks the cause),
    ``perturbations`` (the optimizer's own knobs for the sensitivity test),
    ``blind_to`` (a generic perturbation the row cannot resolve, with the
    reason in the note) and ``float32_blind`` (why a row's float32 check
    catches no perturbation at all).
``COUNTERPARTS``
    for each lab optimizer of the family, each library's counterpart:
    ``"module.Name"`` where the library has it, :class:`Missing` (with where
    it would be) where it does not. The coverage test reads it.

Any module in this package other than ``table`` and ``render`` is a family: a new file is
picked up without an edit here. After adding rows, record the table again
(``jaxopt-lab check --record docs/results/equivalences.json``: the docs render it, and a
test fails while the record is of other rows), regenerate the README's "in short" list
(``python docs/_ext/generated.py --readme``), and give each row a measured bound: the flat one, or
``ulps_per_step`` with the measured growth in its note. The machinery (tolerances, building both
sides, judging, selecting) is in :mod:`jaxopt_lab.equivalences.check`, the rendering in
:mod:`jaxopt_lab.equivalences.render`.
"""

from __future__ import annotations

import importlib
import pkgutil

from jaxopt_lab.equivalences.check import (
    DIFFERS_ABOVE,
    DTYPES,
    FLAT_ULPS,
    KERAS_LR,
    LIBRARIES,
    STEPS,
    CheckResult,
    Equivalence,
    Missing,
    build_lab,
    build_other,
    check_row,
    judge,
    lab_defaults,
    lab_trajectory,
    other_trajectory,
    perturbations,
    resolve,
    table_gradients,
    table_params,
)
from jaxopt_lab.equivalences.render import in_short, render_markdown
from jaxopt_lab.equivalences.selection import available_libraries, check_rows, select

MACHINERY = ("check", "render", "selection")
"""The modules of this package that are not families of rows."""


def _families() -> list:
    names = sorted(
        module.name for module in pkgutil.iter_modules(__path__) if module.name not in MACHINERY
    )
    return [importlib.import_module(f"{__name__}.{name}") for name in names]


FAMILIES = tuple(_families())
EQUIVALENCES: tuple[Equivalence, ...] = tuple(
    row for family in FAMILIES for row in getattr(family, "ROWS", ())
)
"""Every row of the table, from every family module."""
COUNTERPARTS: dict[str, dict[str, str | Missing]] = {
    optimizer: counterparts
    for family in FAMILIES
    for optimizer, counterparts in getattr(family, "COUNTERPARTS", {}).items()
}
"""Each lab optimizer's counterpart in each library (or where it would be, if missing)."""

__all__ = [
    "COUNTERPARTS",
    "DIFFERS_ABOVE",
    "DTYPES",
    "EQUIVALENCES",
    "FAMILIES",
    "FLAT_ULPS",
    "KERAS_LR",
    "LIBRARIES",
    "STEPS",
    "CheckResult",
    "Equivalence",
    "Missing",
    "available_libraries",
    "build_lab",
    "build_other",
    "check_row",
    "in_short",
    "judge",
    "lab_defaults",
    "lab_trajectory",
    "other_trajectory",
    "perturbations",
    "render_markdown",
    "resolve",
    "check_rows",
    "select",
    "table_gradients",
    "table_params",
]
