"""The suite's shared XLA compilation cache (conftest.py): where it lives, and that it is read.

A program compiled by one process is read from the cache, not compiled, by the next; the
folder is pytest's cache, kept between runs, or without pytest's cache plugin a fresh folder
removed at exit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

COMPILE = textwrap.dedent(
    """
    import json, sys
    import jax, jax.monitoring

    hits = []
    jax.monitoring.register_event_listener(
        lambda event, **kwargs: hits.append(event) if event.endswith("cache_hits") else None
    )
    value = jax.jit(lambda x: x * float(sys.argv[1]) + 1.0)(2.0)
    print(json.dumps({"value": float(value), "hits": len(hits),
                      "folder": jax.config.jax_compilation_cache_dir}))
    """
)

FOLDER_TEST = textwrap.dedent(
    """
    import os

    def test_prints_the_folder():
        folder = os.environ["JAX_COMPILATION_CACHE_DIR"]
        assert os.path.isdir(folder)
        print("FOLDER=" + folder)
    """
)


def _compile_in_a_fresh_process(factor: float) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", COMPILE, repr(factor)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_a_program_compiled_in_one_process_is_read_by_the_next():
    folder = os.environ["JAX_COMPILATION_CACHE_DIR"]
    # a program new to the cache; the factor exact in float32, so the value is exact
    factor = 1.0 + int.from_bytes(os.urandom(4), "little") % 2**20 / 2**20
    before = set(os.listdir(folder))
    first = _compile_in_a_fresh_process(factor)
    assert first == {"value": 2.0 * factor + 1.0, "hits": 0, "folder": folder}
    assert set(os.listdir(folder)) - before, "the compiled program was not written"
    second = _compile_in_a_fresh_process(factor)
    assert second == {**first, "hits": 1}


def _run_pytest_with_the_root_conftest(tmp_path: Path, *options: str) -> str:
    (tmp_path / "test_folder.py").write_text(FOLDER_TEST)
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    environment.pop("JAX_COMPILATION_CACHE_DIR")
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", *options, "-q", "-s",
         "--rootdir", str(tmp_path), str(tmp_path / "test_folder.py")],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    return next(
        line.removeprefix("FOLDER=")
        for line in completed.stdout.splitlines()
        if line.startswith("FOLDER=")
    )


def test_the_folder_is_pytests_cache_kept_between_runs(tmp_path):
    folder = Path(_run_pytest_with_the_root_conftest(tmp_path))
    assert folder == tmp_path / ".pytest_cache" / "d" / "jax-compilation-cache"
    assert folder.is_dir()  # kept for the next run
    assert _run_pytest_with_the_root_conftest(tmp_path) == str(folder)


def test_without_pytests_cache_a_fresh_folder_is_removed_at_exit(tmp_path):
    folder = Path(_run_pytest_with_the_root_conftest(tmp_path, "-p", "no:cacheprovider"))
    assert tmp_path not in folder.parents
    assert not folder.exists()
    assert not (tmp_path / ".pytest_cache").exists()
