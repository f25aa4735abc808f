"""The lab's one Markdown table helper: ``tabulate``'s GitHub format, or the same layout without it.

Every table the lab prints or writes (the command line, the demo, the port's
tables, the benchmarks, the accelerator run) goes through :func:`markdown_table`.
An accelerator machine may have nothing but jax, optax, numpy and matplotlib:
there ``tabulate`` is missing and :func:`plain_markdown_table` writes the same
GitHub-flavoured layout (tested cell for cell against ``tabulate``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def markdown_table(
    rows: Sequence[Sequence[Any]],
    headers: Sequence[str],
    *,
    align: Sequence[str] | None = None,
) -> str:
    """A GitHub-flavoured Markdown table (``tabulate``, ``tablefmt="github"``).

    ``align``: per column ``"left"``, ``"right"`` or ``"center"`` (default:
    numbers right, text left; left everywhere without ``tabulate``). Numbers are
    shown as ``str`` shows them: format them first where the format matters.
    """
    try:
        from tabulate import tabulate
    except ImportError:  # a bare accelerator machine
        return plain_markdown_table(rows, headers, align=align)
    return tabulate(
        [[str(cell) for cell in row] for row in rows],
        headers=list(headers),
        tablefmt="github",
        colalign=tuple(align) if align else None,
        disable_numparse=align is not None,
    )


def plain_markdown_table(
    rows: Sequence[Sequence[Any]],
    headers: Sequence[str],
    *,
    align: Sequence[str] | None = None,
) -> str:
    """A GitHub-flavoured Markdown table, cells padded as ``tabulate``'s ``github`` format pads.

    ``align``: per column ``"left"``, ``"right"`` or ``"center"`` (default left).
    """
    headers = [str(header) for header in headers]
    cells = [[str(cell) for cell in row] for row in rows]
    for index, row in enumerate(cells):
        if len(row) != len(headers):
            raise ValueError(f"rows: row {index} has {len(row)} cells for {len(headers)} headers")
    align = list(align) if align is not None else ["left"] * len(headers)
    if len(align) != len(headers) or set(align) - {"left", "right", "center"}:
        raise ValueError(
            f"align: want one of 'left', 'right', 'center' per column ({len(headers)}), got {align}"
        )
    widths = [  # tabulate pads a header by two, so that a column is never narrower
        max([len(header) + 2] + [len(row[column]) for row in cells])
        for column, header in enumerate(headers)
    ]

    def center(text: str, width: int) -> str:  # tabulate's: an odd space goes to the right
        left = (width - len(text)) // 2
        return " " * left + text + " " * (width - len(text) - left)

    pad = {"left": str.ljust, "right": str.rjust, "center": center}

    def line(values: Sequence[str]) -> str:
        padded = (pad[a](v, w) for v, w, a in zip(values, widths, align, strict=True))
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(headers), rule] + [line(row) for row in cells])
