"""Shared fixtures, and the rule that CI runs every test.

Tests that need float64 use ``jax.enable_x64()`` as a context manager (the
``x64`` fixture), so the rest of the suite runs in JAX's default float32 mode,
as users do.

A test skips where what it needs is missing (the real MNIST files, torch, Keras,
TensorFlow), so that a developer without them still gets a useful run. Under CI
(``CI`` set to ``true``, as ``.ci/run`` and CI services set it) a skip is a
failure instead: a CI laid out differently, or missing a library, must not pass
without running the tests that need them. A test that may legitimately skip
there says so with ``@pytest.mark.ci_may_skip``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "ci_may_skip: this test may skip under CI too (the reason says why)"
    )


def _skipped_under_ci(report) -> bool:
    return IN_CI and report.skipped and not hasattr(report, "wasxfail")


def _fail_instead(report) -> None:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
    report.outcome = "failed"
    report.longrepr = f"skipped under CI (CI={os.environ['CI']}), which runs every test: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if _skipped_under_ci(report) and item.get_closest_marker("ci_may_skip") is None:
        _fail_instead(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    report = (yield).get_result()  # a whole module skipped (importorskip at its top)
    if _skipped_under_ci(report):
        _fail_instead(report)


@pytest.fixture
def x64():
    import jax  # here, not above: tests/test_ci.py loads this file in fresh pytest runs

    with jax.enable_x64(True):
        yield


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST IDX files: ``$JAXOPT_LAB_MNIST_DIR``, else the copy beside the repo."""
    directory = Path(os.environ.get("JAXOPT_LAB_MNIST_DIR", MNIST_DIR))
    if not (directory / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(
            f"MNIST IDX files not found in {directory} (set JAXOPT_LAB_MNIST_DIR to the "
            "folder of the four gzipped IDX files)"
        )
    return directory


@pytest.fixture(scope="module")
def keras():
    """Keras 3 on its JAX backend, as the equivalence table runs it; skips without it."""
    import importlib.util

    if importlib.util.find_spec("keras") is None:
        pytest.skip("keras is not installed (pip install 'jaxopt-lab[crosscheck]')")
    from jaxopt_lab import crosscheck

    return crosscheck.import_keras()


@pytest.fixture(scope="module")
def torch():
    """torch with one intra-op thread while the module runs (restored after).

    The cross-check tensors are small: on a busy two-core machine a second thread
    only spins (measured: 60 Muon steps in 2 s with two threads, 0.03 s with one).
    """
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)
