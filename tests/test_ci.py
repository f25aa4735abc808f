"""CI runs every test: under ``CI=true`` a missing MNIST folder or library fails, not skips.

Each case runs pytest in a subprocess, with this suite's conftest as a plugin, on a
tiny test file written here, and reads its exit status and summary.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

TINY = textwrap.dedent(
    """
    import pytest

    def test_reads_mnist(mnist_dir):
        assert (mnist_dir / "train-images-idx3-ubyte.gz").exists()

    def test_needs_a_library():
        pytest.importorskip("jaxopt_lab_no_such_library")

    @pytest.mark.ci_may_skip
    def test_may_skip():
        pytest.skip("a GPU-only check, say")

    @pytest.mark.xfail(reason="a known bug", strict=True)
    def test_known_bug():
        assert False

    def test_runs():
        pass
    """
)
CI_RUN = (ROOT / ".ci" / "run").read_text()


def run_tiny(tmp_path: Path, mnist_dir: Path, ci: str | None) -> tuple[int, str]:
    (tmp_path / "test_tiny.py").write_text(TINY)
    environment = {**os.environ, "JAXOPT_LAB_MNIST_DIR": str(mnist_dir)}
    environment.pop("CI", None)
    environment["PYTHONPATH"] = os.pathsep.join([str(TESTS), str(ROOT)])
    environment["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only pytest and our conftest
    if ci is not None:
        environment["CI"] = ci
    command = [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider"]
    command += ["-q", "-rfEs", "--rootdir", str(tmp_path), str(tmp_path / "test_tiny.py")]
    result = subprocess.run(
        command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120
    )
    return result.returncode, result.stdout + result.stderr


def summary(output: str) -> str:
    return re.findall(r"^=*\s*(\d+ \w+.*) in [\d.]+s", output, re.MULTILINE)[-1]


def test_under_ci_a_missing_mnist_folder_or_library_fails(tmp_path):
    nowhere = tmp_path / "nowhere"
    status, output = run_tiny(tmp_path, nowhere, ci="true")
    assert status == 1, output
    # A fixture's skip fails the test's setup: pytest counts it as an error.
    assert summary(output) == "1 failed, 1 passed, 1 skipped, 1 xfailed, 1 error", output
    assert re.search(rf"ERROR test_tiny.py::test_reads_mnist .*not found in {nowhere}", output)
    assert re.search(r"FAILED test_tiny.py::test_needs_a_library .*jaxopt_lab_no_such", output)
    assert "skipped under CI" in output


def test_outside_ci_they_skip(tmp_path):
    status, output = run_tiny(tmp_path, tmp_path / "nowhere", ci=None)
    assert status == 0, output
    assert summary(output) == "1 passed, 3 skipped, 1 xfailed", output


def test_under_ci_the_real_mnist_folder_is_found(tmp_path, mnist_dir):
    status, output = run_tiny(tmp_path, mnist_dir, ci="true")
    assert status == 1, output  # the missing library still fails
    assert summary(output) == "1 failed, 2 passed, 1 skipped, 1 xfailed", output


@pytest.mark.parametrize(
    "line",
    [
        "export CI=true",
        'export JAXOPT_LAB_MNIST_DIR="$PWD/../shared/data/mnist"',
        "python -m pip install --quiet -e '.[test]'",
        "    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium "
        "chromium-driver >/dev/null",
    ],
)
def test_ci_script_points_the_tests_at_the_data_and_installs_the_declared_extras(line):
    """The data, the test extras, and Chromium for the page's browser tests."""
    assert line in CI_RUN.splitlines()
