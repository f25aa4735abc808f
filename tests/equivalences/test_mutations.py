"""The kept mutation check: each deliberate bug of ``mutations.py`` fails a named test.

For each mutation, in a temporary copy of the package and the tests, the one piece
of text is replaced, only the mutation's named tests run (``pytest -x``), and they
must fail (exit status 1: a test failed, not an import or collection error). The
named tests first pass, all together, on the unmutated copy, so that what fails
is the mutation. Two copies run side by side (CI has two cores). Slow: measured
in docs/testing.md.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.equivalences.mutations import MUTATIONS, Mutation

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2
COPIED = ("jaxopt_lab", "tests", "pyproject.toml", "README.md")


def test_the_list_holds_at_least_30_mutations_each_at_one_place_with_named_tests():
    assert len(MUTATIONS) >= 30
    assert len({mutation.name for mutation in MUTATIONS}) == len(MUTATIONS)
    for mutation in MUTATIONS:
        text = (ROOT / mutation.path).read_text()
        assert text.count(mutation.old) == 1, (mutation.name, text.count(mutation.old))
        assert mutation.new != mutation.old and mutation.tests, mutation.name
        for test in mutation.tests:
            path, _, name = test.partition("::")
            function = re.sub(r"\[.*$", "", name)
            assert f"def {function}(" in (ROOT / path).read_text(), (mutation.name, test)


def _copy(destination: Path) -> Path:
    destination.mkdir()
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))  # fmt: skip
        else:
            shutil.copy2(source, destination / name)
    return destination


def _pytest(copy: Path, tests: tuple[str, ...]) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider", *tests],
        cwd=copy, env=environment, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip


def _run(copies: queue.Queue, mutation: Mutation) -> tuple[Mutation, int, str]:
    copy = copies.get()
    try:
        target = copy / mutation.path
        original = target.read_text()
        target.write_text(original.replace(mutation.old, mutation.new, 1))
        try:
            completed = _pytest(copy, mutation.tests)
        finally:
            target.write_text(original)
        return mutation, completed.returncode, completed.stdout[-1500:]
    finally:
        copies.put(copy)


@pytest.mark.slow
def test_every_mutation_fails_a_named_test(tmp_path):
    copies: queue.Queue = queue.Queue()
    for index in range(WORKERS):
        copies.put(_copy(tmp_path / f"copy-{index}"))
    named = tuple(dict.fromkeys(test for mutation in MUTATIONS for test in mutation.tests))
    baseline = _pytest(copies.queue[0], named)
    assert baseline.returncode == 0, f"the named tests fail unmutated:\n{baseline.stdout[-3000:]}"
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda mutation: _run(copies, mutation), MUTATIONS))
    survivors = [f"{mutation.name} (exit {status}): {output}"
                 for mutation, status, output in results if status != 1]  # fmt: skip
    assert not survivors, "mutations no named test caught:\n" + "\n\n".join(survivors)
