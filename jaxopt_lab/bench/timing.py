"""Timing helpers shared by the benchmarks: medians, compile times, the machine."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np


def block(tree: Any) -> Any:
    """Wait until every array in ``tree`` is computed."""
    return jax.block_until_ready(tree)


def median_seconds(run: Callable[[], Any], *, repeats: int = 7, warmup: int = 1) -> float:
    """Median wall time of ``run()`` over ``repeats`` calls, after ``warmup`` calls.

    ``run`` must return what it computed so that JAX work is waited for.
    """
    for _ in range(warmup):
        block(run())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        block(run())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compile_seconds(jitted: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """Seconds to lower and compile ``jitted`` for these arguments, and the compiled callable."""
    start = time.perf_counter()
    compiled = jitted.lower(*args, **kwargs).compile()
    return time.perf_counter() - start, compiled


def machine() -> dict[str, Any]:
    """What ran the benchmark: device, host and versions."""
    import optax

    device = jax.devices()[0]
    return {
        "platform": device.platform,
        "device": getattr(device, "device_kind", str(device)),
        "device_count": jax.device_count(),
        "host": platform.node(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": jax.lib.__version__ if hasattr(jax.lib, "__version__") else None,
        "optax": optax.__version__,
        "numpy": np.__version__,
    }


def host_cpu() -> str:
    """The host's CPU model (what a CPU run ran on), from /proc/cpuinfo where there is one."""
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
