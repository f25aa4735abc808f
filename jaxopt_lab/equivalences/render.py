"""The equivalence table as text: the Markdown table and the "in short" list.

``jaxopt-lab check`` prints both, and the README's copies are pasted from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from jaxopt_lab.equivalences.table import DIFFERS_ABOVE, FLAT_ULPS, CheckResult, Equivalence, select


def _ulps_cell(result: CheckResult | None) -> str:
    if result is None:
        return "-"
    comparison = result.comparison
    if comparison.first_nonfinite_step is not None:
        return f"non-finite at step {comparison.first_nonfinite_step}"
    return f"{comparison.max_scaled_ulps[-1]:.1f}"


def _real_name(dtype: Any) -> str:
    """float32 for float32 and complex64; float64 for float64 and complex128."""
    return np.dtype(np.finfo(dtype).dtype).name


def render_markdown(results: Sequence[CheckResult], steps: int) -> str:
    """The table as Markdown, grouped by optimizer, one line per row (float32 and float64).

    Columns: the lab call, the library, the other call, the float32 and
    float64 distance after the last step in ulps of the leaf's scale (and the
    float64 relative error), the verdict, the note.
    """
    by_row: dict[int, dict[str, CheckResult]] = {}
    rows: list[Equivalence] = []
    for result in results:
        if id(result.row) not in by_row:
            by_row[id(result.row)] = {}
            rows.append(result.row)
        by_row[id(result.row)][_real_name(result.dtype)] = result
    lines = [
        f"| optimizer | lab | library | other side | float32: ulps after {steps} steps "
        "| float64: ulps (rel. error) | verdict | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    current = None
    for row in rows:
        cells = by_row[id(row)]
        single32, single = cells.get("float32"), cells.get("float64")
        double = (
            f"{_ulps_cell(single)} ({single.comparison.max_rel_error[-1]:.1e})"
            if single is not None and single.comparison.first_nonfinite_step is None
            else _ulps_cell(single)
        )
        verdicts = {result.verdict for result in cells.values()}
        verdict = "FAIL" if "FAIL" in verdicts else verdicts.pop()
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
            f"| {_ulps_cell(single32)} | {double} | {verdict} | {note.strip()} |"
        )
    return "\n".join(lines)


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
