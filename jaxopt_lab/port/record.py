"""The port's measured tables as a record: ``jaxopt-lab port --matrix --conventions --record``.

The docs render the matrix and the conventions table from this record
(:func:`render_recorded`), never from numbers typed into a page; the record carries a
fingerprint of the cases and conventions it measured (:func:`fingerprint`), and a
record of other cases is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from jaxopt_lab.port import conventions, matrix


def _convention_definition(convention: conventions.Convention) -> list[Any]:
    return [
        convention.title,
        convention.naive_port,
        convention.optimizer,
        convention.naive.__qualname__,
        convention.scheduler,
        convention.library,
        convention.clip_grad_norm,
        convention.scheduler_every,
        convention.gradient_scale,
    ]


def fingerprint(
    cases: Sequence[matrix.PortCase],
    measured_conventions: Sequence[conventions.Convention],
    steps: int,
) -> str:
    """SHA-256 of the matrix's cases, the conventions' definitions and the step count."""
    text = json.dumps(
        [steps, [repr(case) for case in cases],
         [_convention_definition(c) for c in measured_conventions]]
    )  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()


def record(steps: int = 1000) -> dict[str, Any]:
    """Run the whole matrix and every convention; what ``--record`` writes."""
    return {
        "steps": steps,
        "fingerprint": fingerprint(matrix.CASES, conventions.CONVENTIONS, steps),
        "matrix": matrix.matrix_measurements(steps=steps),
        "conventions": [
            {"title": m.convention.title, "naive_port": m.convention.naive_port,
             "naive_ulps": m.naive_ulps, "naive_relative": m.naive_relative,
             "port_ulps": m.port_ulps, "port_relative": m.port_relative}
            for m in conventions.measure_all(steps=steps)
        ],
    }  # fmt: skip


def render_recorded(recorded: dict[str, Any]) -> tuple[str, str]:
    """The matrix table and the conventions table, as Markdown, from a current record.

    Raises ``ValueError`` if the record was measured on other cases or conventions.
    """
    current = fingerprint(matrix.CASES, conventions.CONVENTIONS, recorded.get("steps"))
    if recorded.get("fingerprint") != current:
        raise ValueError(
            "the port record is stale: its cases differ from the matrix's; rerun "
            "jaxopt-lab port --matrix --conventions --record PATH"
        )
    return (
        matrix.matrix_markdown(recorded["matrix"], recorded["steps"]),
        conventions.conventions_markdown(recorded["conventions"]),
    )
