"""The one Markdown table helper: tabulate's GitHub layout, and the same layout without tabulate."""

from __future__ import annotations

import sys

import pytest

from jaxopt_lab.report.tables import markdown_table, plain_markdown_table

ROWS, HEADERS = [["adam", "1.5", "x"], ["sgd", "22", "yy"]], ["optimizer", "ms", "c"]


def test_plain_table_is_tabulates_github_table():
    tabulate = pytest.importorskip("tabulate")
    for align in (["left", "right", "center"], ["left", "left", "left"]):
        expected = tabulate.tabulate(
            ROWS, headers=HEADERS, tablefmt="github", colalign=align, disable_numparse=True
        )
        assert plain_markdown_table(ROWS, HEADERS, align=align) == expected
        assert markdown_table(ROWS, HEADERS, align=align) == expected
    with pytest.raises(ValueError, match="rows: row 1 has 2 cells for 3 headers"):
        plain_markdown_table([["a", "b", "c"], ["a", "b"]], HEADERS)
    with pytest.raises(ValueError, match="align: want one of"):
        plain_markdown_table(ROWS, HEADERS, align=["left", "up", "left"])


def test_without_tabulate_the_same_table_is_written(monkeypatch):
    """A bare accelerator machine has no tabulate: the helper falls back, same layout."""
    pytest.importorskip("tabulate")
    align = ["left", "right", "center"]
    with_tabulate = markdown_table(ROWS, HEADERS, align=align)
    monkeypatch.setitem(sys.modules, "tabulate", None)  # import tabulate raises ImportError
    assert markdown_table(ROWS, HEADERS, align=align) == with_tabulate
