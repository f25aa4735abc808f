"""Shared fixtures.

Tests that need float64 use ``jax.enable_x64()`` as a context manager (the
``x64`` fixture), so the rest of the suite runs in JAX's default float32 mode,
as users do.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax
import pytest

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST IDX files that every developer and CI have beside the repo."""
    directory = Path(os.environ.get("JAXOPT_LAB_MNIST_DIR", MNIST_DIR))
    if not (directory / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST IDX files not found in {directory}")
    return directory
