"""The benchmark suite: every benchmark, one JSON file each, Markdown tables, a figure.

    jaxopt-lab bench [--quick] [--out DIR] [--only update,train]
    python -m benchmarks [...]                 (the same, from the repository root)

Runs ``update`` (one optimizer step), ``sweep`` (the 2-D lab), ``train`` (MNIST),
``checkpoint`` and ``memory`` (a streamed sweep's peak memory), skipping one that
cannot import with a note, so the same command works on a CPU-only checkout and
on a GPU machine with nothing but jax, optax, numpy and matplotlib installed.
The modules are part of the installed package (``jaxopt_lab.bench``). A full
run writes ``DIR/<name>.json`` and ``DIR/update.png``; DIR defaults to
``benchmarks/results/<device>/`` under the current folder (the repository root).
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

from jaxopt_lab.bench import timing
from jaxopt_lab.report.tables import markdown_table

MODULES = {
    "update": "update_speed",
    "sweep": "sweep_speed",
    "train": "training_speed",
    "checkpoint": "checkpoint_speed",
    "memory": "sweep_memory",
}
"""Each benchmark's name (its JSON file, ``--only``) and its module in :mod:`jaxopt_lab.bench`."""
BENCHMARKS = tuple(MODULES)
RESULTS = Path("benchmarks") / "results"
"""Where a full run writes by default, relative to the current folder (the repository root)."""


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
            module = importlib.import_module(f"jaxopt_lab.bench.{MODULES[name]}")
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
                from jaxopt_lab.bench.benchmark_figures import plot_update

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
    return markdown_table([[_cell(row.get(c, "")) for c in columns] for row in rows], columns)


def markdown(suite: dict) -> str:
    """The suite as Markdown: the machine, each benchmark's table and summary, the skips."""
    machine = suite["machine"]
    parts = [
        f"Device: {machine['device']} ({machine['platform']}), jax {machine['jax']}, "
        f"optax {machine['optax']}, {machine['cpu_count']} CPUs"
        + (" — quick run" if suite["quick"] else "")
    ]
    for name, result in suite["results"].items():
        module = importlib.import_module(f"jaxopt_lab.bench.{MODULES[name]}")
        render = getattr(module, "markdown", None)
        table = render(result) if render is not None else None
        parts.append(f"## {name}\n\n{table or generic_table(result)}")
        summary = {k: v for k, v in result.get("summary", {}).items() if k != "targets"}
        parts.append("```\n" + json.dumps(summary, indent=1, default=str) + "\n```")
    for name, reason in suite["skipped"].items():
        parts.append(f"- {name}: skipped ({reason})")
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jaxopt-lab bench", description=__doc__.splitlines()[0])
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
        "--only",
        type=_names,
        default=BENCHMARKS,
        metavar="NAME[,NAME...]",
        help=f"comma-separated benchmarks to run (default: {','.join(BENCHMARKS)})",
    )


def _names(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(","))
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown benchmark {unknown[0]!r}; valid: {', '.join(BENCHMARKS)}"
        )
    return names


def run_from_args(args: argparse.Namespace) -> int:
    names = args.only
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
