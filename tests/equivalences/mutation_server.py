"""Runs named tests of a copied tree, mutated or not, each run in a fresh fork of one process.

``python mutation_server.py COPY`` imports the heavy third-party libraries once (jax,
optax, torch, Keras and TensorFlow, pandas, pytest: about 10 s of a test process's
start-up), then, for each JSON request read from stdin (``{"tests": [...], "path": ...,
"old": ..., "new": ...}``, the last three ``null`` for an unmutated run), writes the
mutation into ``COPY``, forks, and the child runs ``pytest -x -q -n 0 -p no:cacheprovider
TESTS`` in ``COPY``; the file is restored after the child exits, and one JSON line
(``{"status": exit status, "output": the end of its output}``) answers on stdout.

A faithful mutation check: this process never imports ``jaxopt_lab`` or the tests (it
asserts so before each fork), so each child imports every module of the package anew
from the mutated copy, and every importer sees the mutation, as in a fresh
``python -m pytest``. Nothing runs in this process before a fork (no JAX backend, no
torch thread pool is started), so the child starts as a fresh process would, less the
imports. Keras is imported on its JAX backend, as ``crosscheck.import_keras`` and every
other importer in the package set it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

OUTPUT_TAIL = 1500
"""Characters of a run's output sent back: the end of pytest's report."""


def _preload() -> None:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import jax  # noqa: F401
    import jax.numpy  # noqa: F401
    import keras  # noqa: F401  (imports TensorFlow)
    import numpy  # noqa: F401
    import optax  # noqa: F401
    import pandas  # noqa: F401
    import pytest  # noqa: F401
    import torch  # noqa: F401


def _child(copy: Path, tests: list[str], log: Path) -> None:
    """In the fork: pytest on ``tests`` in ``copy``, its output to ``log``; never returns."""
    status = 3
    try:
        descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(descriptor, 1)
        os.dup2(descriptor, 2)
        os.chdir(copy)
        import pytest

        status = int(pytest.main(["-x", "-q", "-n", "0", "-p", "no:cacheprovider", *tests]))
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _run(copy: Path, request: dict) -> dict:
    leaked = sorted(name for name in sys.modules if name.split(".")[0] in ("jaxopt_lab", "tests"))
    assert not leaked, f"the server imported {leaked}: a child would not import them anew"
    target = copy / request["path"] if request["path"] else None
    original = target.read_text() if target else None
    if target:
        target.write_text(original.replace(request["old"], request["new"], 1))
    log = copy / ".mutation-run.log"
    try:
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            _child(copy, request["tests"], log)
        _, wait_status = os.waitpid(pid, 0)
    finally:
        if target:
            target.write_text(original)
    output = log.read_text(errors="replace")
    return {"status": os.waitstatus_to_exitcode(wait_status), "output": output[-OUTPUT_TAIL:]}


def main(copy: Path) -> None:
    _preload()
    for line in sys.stdin:
        print(json.dumps(_run(copy, json.loads(line))), flush=True)


if __name__ == "__main__":
    here = Path(__file__).resolve().parent  # not a root of the tests' imports: drop it
    sys.path[:] = [entry for entry in sys.path if entry and Path(entry).resolve() != here]
    main(Path(sys.argv[1]).resolve())
