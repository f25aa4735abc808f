"""Reports as data: the Markdown and the self-contained HTML page, read back and checked."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from jaxopt_lab.report.document import (
    RENDERERS,
    Image,
    Interactive,
    Paragraph,
    Report,
    Section,
    Table,
    to_html,
    to_markdown,
    write_report,
)

PNG = bytes.fromhex(  # a 1x1 PNG
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


class Page(HTMLParser):
    """Every tag with its attributes, every script's text, and the text of the body."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[tuple[dict, str]] = []
        self._script: dict | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None

    def handle_data(self, data):
        if self._script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)


def decode(value):
    """The page script's decoding, in Python: typed arrays back to NumPy."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if "__array__" in value:
            spec = value["__array__"]
            dtype = np.dtype(spec["dtype"]).newbyteorder("<")
            flat = np.frombuffer(base64.b64decode(spec["base64"]), dtype)
            return flat.reshape(spec["shape"])
        return {key: decode(item) for key, item in value.items()}
    return value


def report_with_everything() -> Report:
    data = {
        "positions": np.array([[1.5, np.nan], [np.inf, -0.0]], np.float32),
        "precise": np.array([0.1, 1e-300]),
        "diverged": np.array([True, False, True]),
        "packed": np.array([0, 65534, 65535], np.uint16),
        "seeds": np.array([0, 2**32 - 1], np.uint32),
        "counts": np.array([3, -4], np.int64),
        "name": "</script><script>alert(1)</script> & <!--",
        "loss": float("nan"),
        "nested": [{"x": np.float32(0.25)}],
    }
    return Report("A <title> & more", [
        Section("One", [
            Paragraph("See [the losses](mnist/losses.json) and `code`; <b>not bold</b>."),
            Image("figure.png", "a figure"),
            Image("missing.png", "gone"),
            Table(["name", "value"], [["a<b", "1.5"]], ["left", "right"]),
            Interactive("two_d", data, "Interactive in report.html: paths.",
                        static=Image("figure.png", "static paths")),
            Interactive("loss_curves", {"series": []}, "Interactive in report.html: curves."),
        ]),
    ])  # fmt: skip


def test_markdown_shows_each_view_as_its_static_image_and_a_pointer():
    text = to_markdown(report_with_everything())
    assert "![static paths](figure.png)\n\n*Interactive in report.html: paths.*" in text
    assert "*Interactive in report.html: curves.*" in text
    assert "| a<b    |     1.5 |" in text
    assert "__array__" not in text


def test_the_page_embeds_every_array_bit_for_bit_and_loads_nothing(tmp_path):
    (tmp_path / "figure.png").write_bytes(PNG)
    report = report_with_everything()
    page = Page(to_html(report, tmp_path))
    data_scripts = [text for attrs, text in page.scripts if attrs.get("type") == "application/json"]
    assert len(data_scripts) == 2
    data = decode(json.loads(data_scripts[0]))
    original = report.sections[0].blocks[4].data
    for name in ("positions", "precise", "packed"):
        assert data[name].dtype == original[name].dtype
        np.testing.assert_array_equal(data[name], original[name])  # NaN, inf and -0.0 too
    assert np.signbit(data["positions"][1, 1])
    np.testing.assert_array_equal(data["diverged"], [1, 0, 1])
    assert data["seeds"].dtype == np.float64 and data["seeds"].tolist() == [0, 2**32 - 1]
    assert data["counts"].dtype == np.int32 and data["counts"].tolist() == [3, -4]
    assert data["name"] == original["name"] and data["loss"] is None
    assert data["nested"] == [{"x": 0.25}]

    # Self-contained: the policy forbids every load; nothing refers outside the page.
    metas = [attrs for tag, attrs in page.tags if tag == "meta"]
    (policy,) = [m["content"] for m in metas if m.get("http-equiv") == "Content-Security-Policy"]
    assert "default-src 'none'" in policy and "unsafe-inline" not in policy.split("script-src")[1]
    for tag, attrs in page.tags:
        for key in ("src", "href"):
            if key in attrs and not (tag == "a" and key == "href"):
                assert attrs[key].startswith("data:"), (tag, attrs)
    code = [text for attrs, text in page.scripts if not attrs]
    assert len(code) == 1 and "VIEWS" in code[0]  # the script itself, inlined
    # ... and the one script the policy lets run: its SHA-256, computed here independently.
    digest = base64.b64encode(hashlib.sha256(code[0].encode()).digest()).decode()
    assert policy.endswith(f"script-src 'sha256-{digest}'")
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    assert [image["alt"] for image in images] == ["a figure"]  # the view replaces its static
    assert base64.b64decode(images[0]["src"].split(",", 1)[1]) == PNG


def test_the_page_escapes_text_and_renders_links_and_tables(tmp_path):
    text = to_html(report_with_everything(), tmp_path)
    assert "<title>A &lt;title&gt; &amp; more</title>" in text
    assert '<a href="mnist/losses.json">the losses</a> and <code>code</code>' in text
    assert "&lt;b&gt;not bold&lt;/b&gt;" in text
    assert "<td>a&lt;b</td>" in text.replace(" ", "")
    assert "[gone: missing.png]" in text and "[a figure: figure.png]" in text  # no folder file
    assert text.count("</script>") == 3  # two data blocks and the code: none from the data
    assert re.search(r'<div class="view" data-view="two_d" id="view-1">', text)


def test_write_report_writes_markdown_and_the_page(tmp_path):
    (tmp_path / "figure.png").write_bytes(PNG)
    written = write_report(report_with_everything(), tmp_path)
    assert [path.name for path in written] == ["report.md", "report.html"] == list(RENDERERS)
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert "data:image/png;base64," in (tmp_path / "report.html").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "figure.png",
        "report.html",
        "report.md",
        "result.json",  # result.json: the files' unit
    ]


def test_an_array_the_page_cannot_hold_is_refused():
    report = Report("r", [Section("s", [Interactive("two_d", {"z": np.ones(2, complex)}, "z")])])
    with pytest.raises(TypeError, match="cannot embed an array of dtype complex128"):
        to_html(report, Path("."))
