"""The whole equivalence table is ``slow``; the quick loop keeps one row per optimizer.

Every row in both dtypes, and every row's sensitivity check, is the suite's largest
part: CI runs it all. Under ``-m "not slow"`` each optimizer's first row still runs
in float32 (its first library, at its first settings), so that a change that breaks
an optimizer shows in the quick loop too.
"""

from __future__ import annotations

import pytest


def _quick(item: pytest.Item, first_rows: set[int]) -> bool:
    params = getattr(getattr(item, "callspec", None), "params", {})
    row = params.get("row")
    if row is None:
        return True  # not a row's test: the table's coverage, the command, the README
    return id(row) in first_rows and params.get("dtype", "float32") == "float32"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = config.rootpath / "tests" / "equivalences"
    first_rows: dict[str, int] = {}
    for item in items:
        row = getattr(getattr(item, "callspec", None), "params", {}).get("row")
        if row is not None and item.path.is_relative_to(here):
            first_rows.setdefault(row.optimizer, id(row))
    for item in items:
        if item.path.is_relative_to(here) and not _quick(item, set(first_rows.values())):
            item.add_marker(pytest.mark.slow)
