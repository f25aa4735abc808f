"""Every Python example in README.md and docs/*.md runs as a test; how pytest-xdist shares the work.

Sybil collects the ```python blocks: a block of ``>>>`` lines is a doctest (its output must
match), any other is run as code. The examples need torch (the port's); the test extra
installs Sybil. Without Sybil the Markdown files are not collected, except under ``CI``,
where that is an error (as every skip is there: tests/conftest.py).

``--dist loadfile`` (pyproject.toml) keeps each file's tests on one worker, in order: a
Markdown file's examples share one namespace, a module's fixtures are built once. The
scheduler below keeps that, except for the long parametrized tests of :data:`SPREAD`,
which it shares out in smaller groups, so that no one file holds a worker for minutes.
"""

from __future__ import annotations

import doctest
import os

import pytest

# pytest-xdist runs one worker per core: torch's thread pool (OpenMP) and NumPy's OpenBLAS,
# a thread per core each by default, would then put two threads on each core; under that
# contention torch's Muon runs 15 times slower. One thread each (OMP_NUM_THREADS is read by
# both); every torch row of the equivalence table gives the same bits with one thread as with
# two (100 steps, both dtypes). Set here, before the tests import torch; the workers and the
# processes the tests start inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

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


def _each_apart(nodeid: str, case: str) -> str:
    return nodeid


def _by_optimizer(nodeid: str, case: str) -> str:
    return "equivalence rows of " + case.partition("-")[0]  # a row: optimizer-library-label


SPREAD = {
    # the kept mutation check: 44 runs of 2 to 10 s each
    "tests/equivalences/test_mutations.py::test_the_mutation_fails_a_named_test": _each_apart,
    # the equivalence table and its sensitivity: an optimizer's rows in both files on one
    # worker, in order, the 19 optimizers shared out over the workers
    "tests/equivalences/test_equivalences.py::test_row": _by_optimizer,
    "tests/equivalences/test_equivalence_sensitivity.py"
    "::test_every_wrong_setting_fails_the_row_in_each_dtype": _by_optimizer,
}
"""Test functions whose cases pytest-xdist schedules apart from their file: a case's group,
from its node id and its id (the part in brackets), in place of its file."""


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: unknown without it
def pytest_xdist_make_scheduler(config, log):
    """Under ``--dist loadfile``, each file a group, but the cases of SPREAD grouped apart."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SpreadScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            function, _, case = nodeid.partition("[")
            if function in SPREAD and case:
                return SPREAD[function](nodeid, case.removesuffix("]"))
            return super()._split_scope(nodeid)

    return SpreadScheduling(config, log)
