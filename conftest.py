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

import atexit
import doctest
import os
import shutil
import tempfile

import pytest

# pytest-xdist runs one worker per core: torch's thread pool (OpenMP) and NumPy's OpenBLAS,
# a thread per core each by default, would then put two threads on each core; under that
# contention torch's Muon runs 15 times slower. One thread each (OMP_NUM_THREADS is read by
# both); every torch row of the equivalence table gives the same bits with one thread as with
# two (100 steps, both dtypes). Set here, before the tests import torch; the workers and the
# processes the tests start inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")


COMPILATION_CACHE_BYTES = 2**30
"""The most the kept compilation cache may hold at the start of a run; beyond, it is emptied.

(A full run adds about 70 MB. JAX's own bound, ``jax_compilation_cache_max_size``, scans the
folder at every write: measured, it made the whole suite 1.8 times slower.)"""


def pytest_configure(config):
    _share_compiled_programs(config)


def _share_compiled_programs(config) -> None:
    """One persistent XLA compilation cache for the session's processes, kept between runs.

    The same program is compiled in many places: an optimizer's 1000-step scan by the table
    and by the port's tests, a CLI run's programs in each fresh process, every named test
    again in each fork of the mutation check (where only the mutated module's programs
    change), and everything again at the next run. JAX's persistent cache keys a program by
    its HLO, the compile options and the versions of JAX and XLA, so a hit is the same
    executable a compile would give, and an edit to the code recompiles what it changed.

    The folder is pytest's cache (``.pytest_cache/d/jax-compilation-cache``, emptied by
    ``--cache-clear``), so a fresh clone starts empty; without pytest's cache plugin
    (``-p no:cacheprovider``), a fresh folder removed at exit. Set in the environment before
    any test imports JAX, for the pytest-xdist workers and every process a test starts.
    A folder the caller chose (``JAX_COMPILATION_CACHE_DIR``) is used as it is.
    """
    if "JAX_COMPILATION_CACHE_DIR" in os.environ:
        return  # the caller's, or this session's, set by the pytest-xdist controller
    cache = getattr(config, "cache", None)
    if cache is not None:
        folder = str(cache.mkdir("jax-compilation-cache"))
        if _folder_bytes(folder) > COMPILATION_CACHE_BYTES:
            shutil.rmtree(folder, ignore_errors=True)
            os.makedirs(folder, exist_ok=True)
    else:
        folder = tempfile.mkdtemp(prefix="jaxopt-lab-tests-xla-cache-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = folder
    # Every program, however quick to compile (JAX's defaults keep those over a second).
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"


def _folder_bytes(folder: str) -> int:
    return sum(entry.stat().st_size for entry in os.scandir(folder) if entry.is_file())


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
