"""Every Python example in README.md and docs/*.md runs as a test, its printed output checked.

Sybil collects the ```python blocks: a block of ``>>>`` lines is a doctest (its output must
match), any other is run as code. The examples need torch (the port's); the test extra
installs Sybil. Without Sybil the Markdown files are not collected, except under ``CI``,
where that is an error (as every skip is there: tests/conftest.py).
"""

from __future__ import annotations

import doctest
import os

try:
    from sybil import Sybil
    from sybil.parsers.markdown import PythonCodeBlockParser
except ImportError:
    if os.environ.get("CI"):
        raise
    Sybil = None

if Sybil is not None:
    pytest_collect_file = Sybil(
        parsers=[
            PythonCodeBlockParser(
                doctest_optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
            )
        ],
        patterns=["README.md", "docs/*.md"],
        excludes=["docs/_build/*", "docs/_generated/*"],
    ).pytest()
