"""The equivalence table as text: the Markdown table, the "in short" list, and its record.

``jaxopt-lab check`` prints the table and the list; ``jaxopt-lab check --record PATH``
also writes what it measured (:func:`record`), which the docs render
(:func:`render_recorded`) with the rows' fingerprint (:func:`fingerprint`) to tell
a record of other rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from jaxopt_lab.equivalences.check import DIFFERS_ABOVE, FLAT_ULPS, CheckResult, Equivalence
from jaxopt_lab.equivalences.selection import select


def _measurement(result: CheckResult) -> dict[str, Any]:
    """What one row measured in one dtype, after its last step, as JSON-ready numbers."""
    comparison = result.comparison
    return {
        "scaled_ulps": float(comparison.max_scaled_ulps[-1]),
        "rel_error": float(comparison.max_rel_error[-1]),
        "max_ulp_distance": float(comparison.max_ulp_distance[-1]),
        "first_nonfinite_step": comparison.first_nonfinite_step,
        "update_ulps": _worst_update_ulps(result),
        "verdict": result.verdict,
        "failure": result.failure,
    }


def _ulps_cell(measured: dict[str, Any] | None) -> str:
    if measured is None:
        return "-"
    if measured["first_nonfinite_step"] is not None:
        return f"non-finite at step {measured['first_nonfinite_step']}"
    return f"{measured['scaled_ulps']:.1f}"


def _worst_update_ulps(result: CheckResult) -> float | str | None:
    """The worst per-step update ulps (of the update's own scale); None if not measured."""
    worst = result.comparison.max_update_ulps
    if worst is None:
        return None
    return float(np.nanmax(worst)) if np.isfinite(worst).any() else "non-finite"


def _update_cell(measured: dict[str, Any] | None) -> str:
    """The worst per-step update ulps as a cell, or "-" if not measured."""
    worst = None if measured is None else measured.get("update_ulps")
    if worst is None:
        return "-"
    return worst if isinstance(worst, str) else f"{worst:.1f}"


def _real_name(dtype: Any) -> str:
    """float32 for float32 and complex64; float64 for float64 and complex128."""
    return np.dtype(np.finfo(dtype).dtype).name


def render_markdown(results: Sequence[CheckResult], steps: int) -> str:
    """The table as Markdown, grouped by optimizer, one line per row (float32 and float64).

    Columns: the lab call, the library, the other call, the float32 and
    float64 distance after the last step in ulps of the leaf's scale (and the
    float64 relative error), the float32 updates' worst distance at any step in
    ulps of the update's own scale (where measured: ``check_row(updates=True)``),
    the verdict, the note.
    """
    by_row: dict[int, dict[str, dict[str, Any]]] = {}
    rows: list[Equivalence] = []
    for result in results:
        if id(result.row) not in by_row:
            by_row[id(result.row)] = {}
            rows.append(result.row)
        by_row[id(result.row)][_real_name(result.dtype)] = _measurement(result)
    return _render_rows(rows, [by_row[id(row)] for row in rows], steps)


def _render_rows(
    rows: Sequence[Equivalence], measured: Sequence[dict[str, dict[str, Any]]], steps: int
) -> str:
    """One Markdown line per row from its measurements by dtype name (float32, float64)."""
    lines = [
        f"| optimizer | lab | library | other side | float32: ulps after {steps} steps "
        "| float64: ulps (rel. error) | float32: update ulps (worst step) | verdict | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    current = None
    for row, cells in zip(rows, measured, strict=True):
        single32, single = cells.get("float32"), cells.get("float64")
        double = (
            f"{_ulps_cell(single)} ({single['rel_error']:.1e})"
            if single is not None and single["first_nonfinite_step"] is None
            else _ulps_cell(single)
        )
        verdicts = {cell["verdict"] for cell in cells.values()}
        verdict = "FAIL" if "FAIL" in verdicts else verdicts.pop() if verdicts else "-"
        note = row.note.replace("|", "\\|")
        if row.ulps_per_step:
            note += f" Bound: {FLAT_ULPS:g} + {row.ulps_per_step:g} ulps per step."
        if row.float64_ulps_per_step:
            note += (
                f" Bound in float64: {FLAT_ULPS:g} + {row.float64_ulps_per_step:.2g} ulps per step."
            )
        if not row.agrees and row.differs_above != DIFFERS_ABOVE:
            note += f" Differs by more than {row.differs_above:g} (float64)."
        if not row.agrees and row.differs_below is not None:
            note += f" Differs by at most {row.differs_below:g} (every step, both dtypes)."
        name = f"**{row.optimizer}**" if row.optimizer != current else ""
        current = row.optimizer
        lines.append(
            f"| {name} | `{row.lab_call()}` | {row.library} | `{row.other_call()}` "
            f"| {_ulps_cell(single32)} | {double} | {_update_cell(single32)} | {verdict} "
            f"| {note.strip()} |"
        )
    return "\n".join(lines)


def _definition(row: Equivalence) -> list[Any]:
    """What defines a row, as text: its calls, its bounds, its params, its note."""
    return [
        row.name,
        row.lab_call(),
        row.other_call(),
        row.note,
        row.agrees,
        row.ulps_per_step,
        row.float64_ulps_per_step,
        row.differs_above,
        row.float32_learning_rate,
        row.complex_params,
        repr(row.param_shapes),
    ]


def fingerprint(rows: Iterable[Equivalence], steps: int) -> str:
    """SHA-256 of the rows' definitions (calls, bounds, params, notes) and the step count.

    A record whose fingerprint differs was measured on other rows: it is stale.
    """
    text = json.dumps([steps, *(_definition(row) for row in rows)], default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def record(
    results: Sequence[CheckResult], rows: Sequence[Equivalence], steps: int, libraries: dict
) -> dict[str, Any]:
    """What ``jaxopt-lab check --record`` writes: per row (in the rows' order) and dtype,
    the distance after the last step (ulps of the leaf's scale, relative error, largest
    elementwise ulps), the verdict; the rows' :func:`fingerprint`; the library versions.

    A row whose library is not installed has no measurements (``{}``).
    """
    measured: dict[int, dict[str, dict[str, Any]]] = {id(row): {} for row in rows}
    for result in results:
        measured[id(result.row)][_real_name(result.dtype)] = _measurement(result)
    return {
        "steps": steps,
        "fingerprint": fingerprint(rows, steps),
        "libraries": libraries,
        "rows": [
            {"name": row.name, "lab": row.lab_call(), "other": row.other_call(),
             "measured": measured[id(row)]}
            for row in rows
        ],
    }  # fmt: skip


def render_recorded(recorded: dict[str, Any], rows: Sequence[Equivalence]) -> str:
    """The Markdown table of :func:`render_markdown`, from a record of these ``rows``.

    Raises ``ValueError`` if the record was measured on other rows (its fingerprint).
    """
    if recorded.get("fingerprint") != fingerprint(rows, recorded.get("steps")):
        raise ValueError(
            "the equivalence record is stale: its rows differ from the table's; "
            "rerun jaxopt-lab check --record PATH"
        )
    shown = [
        (row, entry["measured"])
        for row, entry in zip(rows, recorded["rows"], strict=True)
        if entry["measured"]
    ]
    return _render_rows([row for row, _ in shown], [cells for _, cells in shown], recorded["steps"])


def in_short(rows: Iterable[Equivalence]) -> list[str]:
    """The "in short" list: per optimizer, which lab settings equal which library's defaults.

    One line per optimizer from its ``"defaults"`` rows (real params): the
    settings that make the lab equal each library's call, or that the library
    differs (documented).
    """
    lines = []
    grouped: dict[str, list[Equivalence]] = {}
    for row in select(rows):
        if row.label in ("defaults", "no-learning-rate") and not row.complex_params and row.other:
            grouped.setdefault(row.optimizer, []).append(row)
    for optimizer, group in grouped.items():
        parts = [
            f"{row.library} `{row.other_call()}` = `{row.lab_call()}`"
            if row.agrees
            else f"{row.library} `{row.other_call()}` differs (documented)"
            for row in group
        ]
        lines.append(f"- **{optimizer}**: " + "; ".join(parts) + ".")
    return lines
