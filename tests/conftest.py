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

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
MNIST_DIR = REPO.parent / "shared" / "data" / "mnist"
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


class ForcedCpuDevices:
    """Python processes, from the repository root, that see ``devices`` CPU devices.

    XLA's ``--xla_force_host_platform_device_count`` must be set before JAX starts,
    so a sharded program's test runs its script in a fresh process. The script
    prints one JSON line last; :meth:`report` parses it and fails the test with
    the end of the process's stderr if it exited non-zero.
    """

    @staticmethod
    def environment(devices: int) -> dict[str, str]:
        environment = dict(os.environ, JAX_PLATFORMS="cpu")
        environment["XLA_FLAGS"] = " ".join(
            [environment.get("XLA_FLAGS", ""), f"--xla_force_host_platform_device_count={devices}"]
        ).strip()
        environment["PYTHONPATH"] = os.pathsep.join(
            [str(REPO)] + ([environment["PYTHONPATH"]] if environment.get("PYTHONPATH") else [])
        )
        return environment

    def start(self, script: str, *args: str, devices: int = 4) -> subprocess.Popen:
        command = [sys.executable, "-c", script, *args]
        return subprocess.Popen(
            command, cwd=REPO, env=self.environment(devices), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip

    @staticmethod
    def report(process: subprocess.Popen, timeout: float = 600) -> Any:
        try:
            out, error = process.communicate(timeout=timeout)
        finally:
            process.kill()
        assert process.returncode == 0, error[-3000:]
        return json.loads(out.strip().splitlines()[-1])

    def run(self, script: str, *args: str, devices: int = 4, timeout: float = 600) -> Any:
        return self.report(self.start(script, *args, devices=devices), timeout)


@pytest.fixture(scope="session")
def forced_cpu_devices() -> ForcedCpuDevices:
    """Run a script in a fresh process with forced CPU devices (four by default)."""
    return ForcedCpuDevices()
