"""Reports as data, rendered to Markdown: the demo's report, the command line's tables.

A :class:`Report` is a title and :class:`Section` s; a section holds blocks:
:class:`Paragraph`, :class:`Image` and :class:`Table`. Renderers turn a report
into a file: :data:`RENDERERS` maps a file name to a function ``Report -> str``
(today ``report.md``); :func:`write_report` writes each one, atomically. Another
output (an HTML page) is another entry in that mapping.

:func:`markdown_table` is the one table renderer of the lab (``tabulate``,
GitHub-flavoured Markdown): the command line, the demo and the benchmarks use it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tabulate import tabulate

from jaxopt_lab import files


def markdown_table(
    rows: Sequence[Sequence[Any]],
    headers: Sequence[str],
    *,
    align: Sequence[str] | None = None,
) -> str:
    """A GitHub-flavoured Markdown table (``tabulate``, ``tablefmt="github"``).

    ``align``: per column ``"left"``, ``"right"`` or ``"center"`` (default:
    numbers right, text left). Numbers are shown as ``str`` shows them: format
    them first where the format matters.
    """
    return tabulate(
        [[str(cell) for cell in row] for row in rows],
        headers=list(headers),
        tablefmt="github",
        colalign=tuple(align) if align else None,
        disable_numparse=align is not None,
    )


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Image:
    """A figure, by its path relative to the report."""

    path: str
    alt: str


@dataclass(frozen=True)
class Table:
    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]
    align: Sequence[str] | None = None


@dataclass
class Section:
    title: str
    blocks: list[Paragraph | Image | Table] = field(default_factory=list)


@dataclass
class Report:
    title: str
    sections: list[Section] = field(default_factory=list)


def to_markdown(report: Report) -> str:
    """The report as Markdown: ``#`` title, ``##`` sections, images and tables inline."""
    lines = [f"# {report.title}", ""]
    for section in report.sections:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, Paragraph):
                lines.append(block.text)
            elif isinstance(block, Image):
                lines.append(f"![{block.alt}]({block.path})")
            else:
                lines.append(markdown_table(block.rows, block.headers, align=block.align))
            lines.append("")
    return "\n".join(lines)


RENDERERS: dict[str, Callable[[Report], str]] = {"report.md": to_markdown}
"""File name -> renderer; :func:`write_report` writes one file per entry."""


def write_report(
    report: Report, folder: str | Path, renderers: Mapping[str, Callable[[Report], str]] = RENDERERS
) -> list[Path]:
    """Render ``report`` with each renderer into ``folder``; the paths written."""
    written = []
    for name, render in renderers.items():
        path = Path(folder) / name
        files.write_atomic(path, render(report).encode("utf-8"))
        written.append(path)
    return written
