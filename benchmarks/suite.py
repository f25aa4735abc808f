"""The benchmark suite: every benchmark module present, one JSON file each, a table, a figure.

    PYTHONPATH=. python -m benchmarks [--quick] [--out DIR] [--only update,train]
    jaxopt-lab bench [--quick] [--out DIR]          (from the repository root)

Runs ``update`` (this package), ``sweep`` (the 2-D lab), ``train`` (MNIST) and
``checkpoint`` when their modules exist, skipping the others with a note, so the same
command works on a CPU-only checkout and on a GPU machine with nothing but
jax, optax, numpy and matplotlib installed. A full run writes
``DIR/<name>.json`` and ``DIR/update.png``; DIR defaults to
``benchmarks/results/<device>/``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import timing

BENCHMARKS = ("update", "sweep", "train", "checkpoint")
RESULTS = Path(__file__).resolve().parent / "results"


def device_slug(machine: dict) -> str:
    """A directory name for the device: ``cpu``, ``nvidia-h100-80gb-hbm3``, ..."""
    if machine.get("platform") == "cpu":
        return "cpu"
    return re.sub(r"[^a-z0-9]+", "-", str(machine.get("device", "device")).lower()).strip("-")


def run_suite(
    quick: bool = False,
    out_dir: str | Path | None = None,
    names: tuple[str, ...] = BENCHMARKS,
) -> dict[str, Any]:
    """Run each named benchmark module that imports; return results, skips and files written.

    Returns ``{"machine", "quick", "results": {name: result}, "skipped": {name:
    reason}, "files": [paths], "wall_s"}``. A module that is absent, or that
    fails to import for want of its lab, is skipped with the reason; an error
    while it runs propagates.
    """
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        raise ValueError(f"names: unknown benchmarks {unknown}; choose from {list(BENCHMARKS)}")
    started = time.perf_counter()
    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    files: list[str] = []
    out = Path(out_dir) if out_dir is not None else None
    for name in names:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ImportError as error:
            skipped[name] = f"not importable: {error}"
            continue
        if not hasattr(module, "run"):
            skipped[name] = "module has no run(quick)"
            continue
        result = module.run(quick=quick)
        results[name] = result
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"{name}.json"
            path.write_text(json.dumps(result, indent=1))
            files.append(str(path))
            if name == "update":
                from benchmarks.plots import plot_update

                files.append(str(plot_update(result, out / "update.png")))
    return {
        "machine": timing.machine(),
        "quick": quick,
        "results": results,
        "skipped": skipped,
        "files": files,
        "wall_s": time.perf_counter() - started,
    }


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def generic_table(result: dict) -> str:
    """A Markdown table of ``result["rows"]`` with every key as a column."""
    rows = result.get("rows", [])
    if not rows:
        return "(no rows)"
    columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def markdown(suite: dict) -> str:
    """The suite as Markdown: the machine, each benchmark's table and summary, the skips."""
    machine = suite["machine"]
    parts = [
        f"Device: {machine['device']} ({machine['platform']}), jax {machine['jax']}, "
        f"optax {machine['optax']}, {machine['cpu_count']} CPUs"
        + (" — quick run" if suite["quick"] else "")
    ]
    for name, result in suite["results"].items():
        module = importlib.import_module(f"benchmarks.{name}")
        render = getattr(module, "markdown_table", None) or getattr(module, "markdown", None)
        table = render(result) if render is not None else None
        parts.append(f"## {name}\n\n{table or generic_table(result)}")
        summary = {k: v for k, v in result.get("summary", {}).items() if k != "targets"}
        parts.append("```\n" + json.dumps(summary, indent=1, default=str) + "\n```")
    for name, reason in suite["skipped"].items():
        parts.append(f"- {name}: skipped ({reason})")
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The suite's options, shared by ``python -m benchmarks`` and ``jaxopt-lab bench``."""
    parser.add_argument("--quick", action="store_true", help="a smoke run small enough for CI")
    parser.add_argument(
        "--out",
        help="directory for the JSON files and figure (default: benchmarks/results/<device>/ "
        "for a full run, nothing written for --quick)",
    )
    parser.add_argument(
        "--only", help=f"comma-separated benchmarks to run (default: {','.join(BENCHMARKS)})"
    )


def run_from_args(args: argparse.Namespace) -> int:
    names = tuple(args.only.split(",")) if args.only else BENCHMARKS
    out = args.out
    if out is None and not args.quick:
        out = RESULTS / device_slug(timing.machine())
    suite = run_suite(quick=args.quick, out_dir=out, names=names)
    print(markdown(suite))
    for path in suite["files"]:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
