"""The kept mutation check: each deliberate bug of ``mutations.py`` fails a named test.

For each mutation, in a temporary copy of the package and the tests, the one piece
of text is replaced, only the mutation's named tests run (``pytest -x``), and they
must fail (exit status 1: a test failed, not an import or collection error). The
named tests pass, all together, on the unmutated copy (a test of its own), so that
what fails is the mutation. Each mutation is a test of its own, so pytest-xdist spreads them
over the workers; each worker has one copy and one ``mutation_server.py``, which
imports the heavy libraries once and runs each mutation in a fresh fork (a fresh
import of the whole package from the mutated copy). Slow: measured in docs/testing.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.equivalences.mutations import MUTATIONS, Mutation

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 900
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


class MutationServer:
    """``mutation_server.py`` on one copy: ``run(tests, mutation)`` -> (exit status, output)."""

    def __init__(self, copy: Path):
        environment = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
        self.process = subprocess.Popen(
            [sys.executable, str(copy / "tests/equivalences/mutation_server.py"), str(copy)],
            cwd=copy, env=environment, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            start_new_session=True,  # its forks in its process group: a hung run is ended too
        )  # fmt: skip

    def run(self, tests: tuple[str, ...], mutation: Mutation | None = None) -> tuple[int, str]:
        request = {"tests": list(tests), "path": None, "old": None, "new": None}
        if mutation is not None:
            request.update(path=mutation.path, old=mutation.old, new=mutation.new)
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], RUN_TIMEOUT_S)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self._end()
            pytest.fail(f"the mutation server ended or gave no answer within {RUN_TIMEOUT_S} s")
        answer = json.loads(line)
        return answer["status"], answer["output"]

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._end()

    def _end(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # the server and a run it forked
        self.process.wait()


@pytest.fixture(scope="session")
def mutation_server(tmp_path_factory):
    """One copy and its server per pytest-xdist worker (the copy is never mutated between runs)."""
    server = MutationServer(_copy(tmp_path_factory.mktemp("mutation") / "copy"))
    yield server
    server.close()


@pytest.mark.slow
def test_the_named_tests_pass_unmutated(mutation_server):
    named = tuple(dict.fromkeys(test for mutation in MUTATIONS for test in mutation.tests))
    status, output = mutation_server.run(named)
    assert status == 0, f"the named tests fail unmutated:\n{output}"


@pytest.mark.slow
@pytest.mark.parametrize("mutation", MUTATIONS, ids=[mutation.name for mutation in MUTATIONS])
def test_the_mutation_fails_a_named_test(mutation_server, mutation):
    status, output = mutation_server.run(mutation.tests, mutation)
    assert status == 1, f"no named test caught {mutation.name} (exit {status}): {output}"
