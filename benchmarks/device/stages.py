"""What runs inside each stage's own process: the probe and the benchmark stages.

``python -m benchmarks.device.session --stage NAME --plan-file PLAN --out OUT``
runs one of them (:func:`probe`, or :func:`run_stage` for ``update``, ``sweep``
and ``train``) and writes ``OUT/<name>.json``; a benchmark stage also writes
``<name>.partial.json`` after each part it finishes, so that a stage killed at
its cap leaves what it measured. JAX and the benchmarks are imported inside the
functions, in the child only.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_json(path: Path, value: Any) -> None:
    """``value`` as JSON at ``path``, atomically (a killed stage leaves the last whole file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(value, indent=1, default=_json_default))
    os.replace(temporary, path)


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _log(message: str) -> None:
    print(message, flush=True)


def probe() -> dict[str, Any]:
    """The device and what JAX does on it by default; run in a process of its own."""
    import importlib.metadata
    import importlib.util

    started = time.perf_counter()
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxopt_lab.bench import timing

    device = jax.devices()[0]
    backend_seconds = time.perf_counter() - started
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    machine = {**timing.machine(), "host_cpu": timing.host_cpu()}
    try:
        machine["platform_version"] = device.client.platform_version
    except AttributeError:
        machine["platform_version"] = None
    machine["memory_bytes_limit"] = (stats or {}).get("bytes_limit")
    try:
        machine["host_memory_available_bytes"] = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf(
            "SC_PAGE_SIZE"
        )
        machine["host_memory_bytes"] = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        machine["host_memory_available_bytes"] = machine["host_memory_bytes"] = None
    machine["devices"] = [str(d) for d in jax.devices()]

    # What float32 matmuls compute by default (TF32 on recent NVIDIA GPUs: about 1e-3).
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((512, 512)).astype(np.float32) for _ in range(2))
    exact = a.astype(np.float64) @ b.astype(np.float64)
    got = np.asarray(jnp.asarray(a) @ jnp.asarray(b), dtype=np.float64)
    matmul_error = float(np.max(np.abs(got - exact)) / np.max(np.abs(exact)))
    # Donation: the donated input is deleted when the backend reuses its buffer.
    x = jnp.zeros((1024,), jnp.float32)
    jax.block_until_ready(jax.jit(lambda v: v + 1.0, donate_argnums=0)(x))
    with jax.enable_x64(True):
        float64_sum = float(jnp.sum(jnp.full((8,), 0.1, jnp.float64)))
    settings = {
        "x64_enabled": bool(jax.config.jax_enable_x64),
        "default_float_dtype": str(jnp.asarray(1.0).dtype),
        "default_matmul_precision": jax.config.jax_default_matmul_precision,
        "float32_matmul_max_relative_error": matmul_error,
        "float32_matmuls_reduced_precision": matmul_error > 1e-4,
        "donated_input_deleted": bool(x.is_deleted()),
        "float64_under_enable_x64": abs(float64_sum - 0.8) < 1e-15,
        "backend_start_seconds": backend_seconds,
    }
    packages = {}
    for name in ("jax", "jaxlib", "optax", "numpy", "matplotlib", "pytest", "ml_dtypes", "scipy"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            packages[name] = importlib.metadata.version(name)
    for distribution in importlib.metadata.distributions():
        name = (distribution.metadata["Name"] or "").lower()
        if name.startswith(("jax-cuda", "jax_cuda", "jax-rocm", "libtpu", "nvidia-")):
            packages[name] = distribution.version
    optional = {
        name: importlib.util.find_spec(name) is not None
        for name in ("tabulate", "tqdm", "pyarrow", "hypothesis", "torch", "keras",
                     "tensorflow", "tensorflow_datasets")
    }  # fmt: skip
    environment = {
        key: value
        for key, value in os.environ.items()
        if key.startswith(("JAX_", "XLA_", "CUDA", "NVIDIA", "TF_", "OMP_"))
        or key in ("CI", "PYTHONPATH", "OUT")
    }
    info = None
    with contextlib.suppress(Exception):
        info = jax.print_environment_info(return_string=True)
    return {
        "machine": machine,
        "memory_stats": stats,
        "jax_settings": settings,
        "packages": packages,
        "optional_packages": optional,
        "environment": environment,
        "nvidia_present": nvidia_present(),
        "environment_info": info,
        "seconds": time.perf_counter() - started,
    }


def nvidia_present() -> bool:
    """Whether this host has an NVIDIA GPU, whatever JAX sees (``nvidia-smi``, ``/dev/nvidia0``)."""
    return shutil.which("nvidia-smi") is not None or Path("/dev/nvidia0").exists()


def stage_update(settings: dict[str, Any], out: Path) -> dict[str, Any]:
    from jaxopt_lab.bench import update_speed as update

    def save(rows: list[dict]) -> None:
        last = rows[-1]
        _log(f"update: {last['optimizer']}/{last['layout']}/{last['size']:.0e} done, "
             f"{len(rows)} rows")  # fmt: skip
        write_json(out / "update.partial.json", {"rows": rows, "sizes": settings["sizes"]})

    return update.run(
        sizes=settings["sizes"],
        optimizers=settings.get("optimizers"),
        many={int(n): names for n, names in settings["many"].items()},
        many_leaves=settings["many_leaves"],
        repeats=settings["repeats"],
        budget_s=settings["budget_s"],
        on_case=save,
    )


def stage_sweep(settings: dict[str, Any], out: Path) -> dict[str, Any]:
    from jaxopt_lab.bench import sweep_speed as sweep

    def save(result: dict[str, Any]) -> None:
        _log(f"sweep: {result['rows'][-1]['points']:.0e} points done")
        write_json(out / "sweep.partial.json", result)

    return sweep.run_widths(
        settings["widths"],
        numpy_max_points=settings["numpy_max_points"],
        budget_s=settings["budget_s"],
        on_width=save,
    )


def stage_train(settings: dict[str, Any], out: Path) -> dict[str, Any]:
    from jaxopt_lab.bench import training_speed as train

    def save(result: dict[str, Any]) -> None:
        _log("train: comparison done")
        write_json(out / "train.partial.json", result)

    return train.run(
        random_data=True,
        iterations=settings["iterations"],
        numpy_iterations=settings["numpy_iterations"],
        repeats=settings["repeats"],
        sweep_networks=settings["sweep_networks"],
        sweep_iterations=settings["sweep_iterations"],
        one_by_one_sample=settings["one_by_one_sample"],
        sweep_chunk_size=settings.get("sweep_chunk_size"),
        on_part=save,
    )


STAGE_FUNCTIONS: dict[str, Callable[[dict[str, Any], Path], dict[str, Any]]] = {
    "update": stage_update,
    "sweep": stage_sweep,
    "train": stage_train,
}


def run_stage(name: str, plan: dict[str, Any], out: Path) -> dict[str, Any]:
    """Run one benchmark stage in this process; write ``out/<name>.json``; return it.

    Every warning raised while it runs is counted by message in the result's
    ``warnings`` (a donation JAX could not honour, a dtype truncated to float32).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = STAGE_FUNCTIONS[name](plan["stages"][name], out)
    counts = Counter(f"{w.category.__name__}: {str(w.message)[:300]}" for w in caught)
    result["warnings"] = dict(counts.most_common(20))
    write_json(out / f"{name}.json", result)
    with contextlib.suppress(FileNotFoundError):
        (out / f"{name}.partial.json").unlink()
    return result
