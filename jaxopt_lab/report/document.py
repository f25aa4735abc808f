"""Reports as data, rendered to Markdown and to one self-contained HTML page.

A :class:`Report` is a title and :class:`Section` s; a section holds blocks:
:class:`Paragraph`, :class:`Image`, :class:`Table` and :class:`Interactive` (a
view that the page's script draws from data, with a static stand-in for
Markdown). Renderers turn a report into a file: :data:`RENDERERS` maps a file
name to a function ``(report, folder) -> str`` (``report.md``, ``report.html``);
:func:`write_report` writes each one, atomically.

The page (:func:`to_html`) needs nothing but itself: its script and style are
inlined (``jaxopt_lab/report/page/``, written for the lab, no library), images are
embedded as ``data:`` URIs, a view's arrays as little-endian base64, and a
Content-Security-Policy forbids every request, so it opens offline from disk.

A :class:`Table` block is rendered by ``tabulate``: GitHub-flavoured Markdown through
:func:`jaxopt_lab.report.tables.markdown_table`, its ``html`` format on the page.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from tabulate import tabulate

from jaxopt_lab import files
from jaxopt_lab.report.tables import markdown_table


@dataclass(frozen=True)
class Paragraph:
    """Text in the lab's Markdown (links, ``code``); ``literal``: shown exactly as it is,
    no link or code made from it (for text holding values read from files)."""

    text: str
    literal: bool = False


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


@dataclass(frozen=True)
class Interactive:
    """A view the page's script draws from ``data``; Markdown shows ``static`` and ``alt``.

    ``view`` names the script's drawing function (``"two_d"``: the 2-D explorer,
    ``"loss_curves"``: MNIST loss curves, ``"mnist_sweep"``: an MNIST sweep's final
    losses; :mod:`jaxopt_lab.report.explorer` builds them; ``"leaderboard"``: a
    leaderboard's profiles and curves, :mod:`jaxopt_lab.report.leaderboard_view`). ``data``
    is JSON-like;
    NumPy arrays in it travel as typed arrays (float32, float64, int32, uint8,
    uint16; booleans as uint8), bit for bit. ``static``: an image of the same
    thing, or ``None``; ``alt``: a line saying what the page shows.
    """

    view: str
    data: Mapping[str, Any]
    alt: str
    static: Image | None = None


Block = Paragraph | Image | Table | Interactive


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Report:
    title: str
    sections: list[Section] = field(default_factory=list)


def to_markdown(report: Report, folder: str | Path | None = None) -> str:
    """The report as Markdown: ``#`` title, ``##`` sections, images and tables inline;
    an interactive view as its static image (if any) and its ``alt`` text."""
    lines = [f"# {report.title}", ""]
    for section in report.sections:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, Interactive):
                if block.static is not None:
                    lines += [f"![{block.static.alt}]({block.static.path})", ""]
                block = Paragraph(f"*{block.alt}*")
            if isinstance(block, Paragraph):
                lines.append(_escape_markdown(block.text) if block.literal else block.text)
            elif isinstance(block, Image):
                lines.append(f"![{block.alt}]({block.path})")
            else:
                lines.append(markdown_table(block.rows, block.headers, align=block.align))
            lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the page


def _script_hash(script: str) -> str:
    """The CSP source that allows exactly this inline script: ``'sha256-<base64>'``."""
    return (
        "'sha256-"
        + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
        + "'"
    )


def content_security_policy(script: str) -> str:
    """The page loads nothing: no script, style, image, font or fetch from anywhere but itself;
    the one script that runs is the lab's own (its SHA-256), never an inline handler or
    a ``javascript:`` link."""
    return (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src {_script_hash(script)}"
    )


_TYPED_ARRAYS = {"f": {4: "float32", 8: "float64"}, "i": {4: "int32"},
                 "u": {1: "uint8", 2: "uint16"}}  # fmt: skip


def _typed(array: np.ndarray) -> dict[str, Any]:
    """A NumPy array as ``{"dtype", "shape", "base64"}`` (little-endian), read by the script:
    float32/64, int32, uint8/16 as they are; booleans as uint8, other integers as int32
    (float64 past its range)."""
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    dtype = _TYPED_ARRAYS.get(array.dtype.kind, {}).get(array.dtype.itemsize)
    if dtype is None and array.dtype.kind in "iu":
        dtype = "int32" if array.size == 0 or np.abs(array).max() < 2**31 else "float64"
    if dtype is None:
        raise TypeError(f"cannot embed an array of dtype {array.dtype} in the page")
    data = np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<"))
    return {"dtype": dtype, "shape": list(array.shape),
            "base64": base64.b64encode(data.tobytes()).decode("ascii")}  # fmt: skip


def _embeddable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"__array__": _typed(value)}
    if isinstance(value, Mapping):
        return {str(key): _embeddable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_embeddable(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _script_json(value: Any) -> str:
    """JSON safe inside ``<script>``: no ``</`` or ``<!--`` can end or comment the element."""
    text = json.dumps(_embeddable(value), allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def safe_link(url: str) -> bool:
    """A link the page may hold: relative (no scheme) or http(s); never ``javascript:``,
    ``data:`` or any other scheme."""
    scheme = _SCHEME.match(url)
    return scheme is None or scheme.group().lower() in ("http:", "https:")


def _link(match: re.Match) -> str:
    text, url = match.group(1), match.group(2)
    return f'<a href="{url}">{text}</a>' if safe_link(html.unescape(url)) else match.group(0)


def _inline_markdown(text: str) -> str:
    """The Markdown the lab's paragraphs use: ``code`` and links (relative or http(s) only:
    :func:`safe_link`; any other stays text); everything else escaped."""
    escaped = html.escape(text)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", _link, escaped)


def _escape_markdown(text: str) -> str:
    """``text`` with every Markdown and HTML punctuation mark backslash-escaped: it renders
    as itself, no link, code or tag made from it."""
    return re.sub(r"([\\`*_{}\[\]()<>#+!|&~-])", r"\\\1", text)


def _image_html(image: Image, folder: Path | None) -> str:
    path = None if folder is None else Path(folder) / image.path
    if path is None or not path.is_file():
        return f'<p class="missing-image">[{html.escape(image.alt)}: {html.escape(image.path)}]</p>'
    kind = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg"}.get(
        path.suffix.lower(), "application/octet-stream"
    )
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img src="data:{kind};base64,{data}" alt="{html.escape(image.alt)}">'
            f"<figcaption>{html.escape(image.alt)}</figcaption></figure>")  # fmt: skip


def _table_html(table: Table) -> str:
    rows = [[str(cell) for cell in row] for row in table.rows]
    return tabulate(rows, headers=list(table.headers), tablefmt="html",
                    colalign=tuple(table.align) if table.align else None,
                    disable_numparse=True)  # fmt: skip


PAGE_SCRIPTS = ("leaderboard.js", "report.js")
"""The page's script: these files of ``page/``, in this order, inlined as one script (the
leaderboard's view first: ``report.js`` draws every view when it runs)."""


def _asset(name: str) -> str:
    return resources.files("jaxopt_lab.report").joinpath("page", name).read_text("utf-8")


def to_html(report: Report, folder: str | Path | None = None) -> str:
    """The report as one self-contained HTML page (see the module docstring).

    Images are read from ``folder`` (the report's folder) and embedded; an
    :class:`Interactive` block becomes a ``<div data-view=...>`` holding its data
    as JSON, drawn by the inlined script (its static image is left out).
    """
    body = [f"<h1>{html.escape(report.title)}</h1>"]
    views = 0
    for section in report.sections:
        body.append(f"<section>\n<h2>{html.escape(section.title)}</h2>")
        for block in section.blocks:
            if isinstance(block, Paragraph):
                text = html.escape(block.text) if block.literal else _inline_markdown(block.text)
                body.append(f"<p>{text}</p>")
            elif isinstance(block, Image):
                body.append(_image_html(block, folder))
            elif isinstance(block, Table):
                body.append(_table_html(block))
            else:
                views += 1
                body.append(
                    f'<div class="view" data-view="{html.escape(block.view)}" id="view-{views}">'
                    f'<script type="application/json">{_script_json(block.data)}</script>'
                    f"<noscript><p>{html.escape(block.alt)} (needs JavaScript)</p></noscript>"
                    "</div>"
                )  # fmt: skip
        body.append("</section>")
    script = "\n" + "\n".join(_asset(name) for name in PAGE_SCRIPTS)
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy(script)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{html.escape(report.title)}</title>",
        f"<style>\n{_asset('report.css')}</style>",
        "</head>",
        "<body>",
        "<main>",
        *body,
        "</main>",
        f"<script>{script}</script>",
        "</body>",
        "</html>",
        "",
    ])  # fmt: skip


Renderer = Callable[[Report, Path], str]

RENDERERS: dict[str, Renderer] = {"report.md": to_markdown, "report.html": to_html}
"""File name -> renderer ``(report, folder) -> str``; :func:`write_report` writes one
file per entry."""


def write_report(
    report: Report, folder: str | Path, renderers: Mapping[str, Renderer] = RENDERERS
) -> list[Path]:
    """Render ``report`` with each renderer into ``folder``, the files as one
    :class:`~jaxopt_lab.files.Result`; the paths written."""
    with files.Result(folder) as result:
        for name, render in renderers.items():
            result.add(name, render(report, Path(folder)).encode("utf-8"))
    return [Path(folder) / name for name in renderers]
