"""Checkpoint save/load time: jaxopt_lab.checkpoint vs a bare numpy.savez / numpy.load.

The tree is params plus Adam state (three times the params) of an MLP of
``width``-wide layers. The baseline writes the same leaves with ``numpy.savez``
(no manifest, no fsync, no rename) and reads them with ``numpy.load``; the ratio
is the price of an atomic write and a verified (SHA-256) read. Medians of
``repeats`` runs, in one process, on the machine's temporary directory.

    python -m jaxopt_lab.bench.checkpoint_speed [--quick] [--out results/checkpoint.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import jaxopt_lab
from jaxopt_lab import checkpoint
from jaxopt_lab.bench import timing
from jaxopt_lab.report.tables import markdown_table


def _tree(width: int, layers: int, dtype) -> dict:
    keys = jax.random.split(jax.random.key(0), layers)
    params = [
        {"w": jax.random.normal(key, (width, width), dtype), "b": jnp.zeros((width,), dtype)}
        for key in keys
    ]
    return {"params": params, "state": jaxopt_lab.adam().init(params), "iteration": 0}


def _row(directory: Path, width: int, layers: int, dtype, repeats: int) -> dict:
    tree = jax.block_until_ready(_tree(width, layers, dtype))
    leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(tree)]
    size_bytes = sum(leaf.nbytes for leaf in leaves)
    path, baseline_path = directory / "c.npz", directory / "baseline.npz"

    def save_checkpoint():
        checkpoint.save(path, tree)

    def save_baseline():
        np.savez(baseline_path, *leaves)

    def load_checkpoint():
        return checkpoint.load(path, like=tree)

    def load_baseline():
        with np.load(baseline_path) as archive:
            return [archive[name] for name in archive.files]

    save_seconds = timing.median_seconds(save_checkpoint, repeats=repeats)
    baseline_save_seconds = timing.median_seconds(save_baseline, repeats=repeats)
    load_seconds = timing.median_seconds(load_checkpoint, repeats=repeats)
    baseline_load_seconds = timing.median_seconds(load_baseline, repeats=repeats)
    return {
        "width": width,
        "layers": layers,
        "dtype": jnp.dtype(dtype).name,
        "megabytes": size_bytes / 1e6,
        "save_seconds": save_seconds,
        "numpy_savez_seconds": baseline_save_seconds,
        "load_seconds": load_seconds,
        "numpy_load_seconds": baseline_load_seconds,
        "save_ratio": save_seconds / baseline_save_seconds,
        "load_ratio": load_seconds / baseline_load_seconds,
    }


def run(quick: bool = False) -> dict:
    """Time save and load for a few tree sizes; ratios against numpy.savez/numpy.load."""
    sizes = [(256, 4), (1024, 4)] if quick else [(256, 4), (1024, 4), (2048, 8)]
    repeats = 3 if quick else 7
    with tempfile.TemporaryDirectory() as directory:
        rows = [
            _row(Path(directory), width, layers, dtype, repeats)
            for width, layers in sizes
            for dtype in (jnp.float32, jnp.bfloat16)
        ]
    largest = max(rows, key=lambda row: row["megabytes"])
    return {
        "benchmark": "checkpoint",
        "machine": timing.machine(),
        "rows": rows,
        "summary": {
            "largest_megabytes": largest["megabytes"],
            "save_ratio_vs_numpy_savez": largest["save_ratio"],
            "load_ratio_vs_numpy_load": largest["load_ratio"],
        },
    }


def markdown(result: dict) -> str:
    headers = ["layers x width", "dtype", "MB", "save s", "np.savez s", "ratio", "load s",
               "np.load s", "ratio"]  # fmt: skip
    rows = [
        [f"{row['layers']} x {row['width']}", row["dtype"], f"{row['megabytes']:.1f}",
         f"{row['save_seconds']:.4f}", f"{row['numpy_savez_seconds']:.4f}",
         f"{row['save_ratio']:.2f}", f"{row['load_seconds']:.4f}",
         f"{row['numpy_load_seconds']:.4f}", f"{row['load_ratio']:.2f}"]
        for row in result["rows"]
    ]  # fmt: skip
    return markdown_table(rows, headers, align=["left", "left"] + ["right"] * 7)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("--out", type=Path, help="write the result as JSON here")
    args = parser.parse_args()
    result = run(quick=args.quick)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    print(markdown(result))


if __name__ == "__main__":
    main()
