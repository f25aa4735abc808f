"""The ``jaxopt-lab`` command: parses arguments, calls the library, writes results.

Each subcommand is a pair of functions: ``add_<name>_parser(subparsers)`` that
declares its arguments, and ``run_<name>(args) -> int`` that runs it and
returns the exit status. ``main`` wires them together.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


# --------------------------------------------------------------------------- check


def add_check_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "check",
        help="cross-check every lab optimizer against the seed, optax, torch.optim and Keras",
    )
    parser.add_argument("--steps", type=int, default=1000, help="steps per comparison")
    parser.set_defaults(run=run_check)


def run_check(args) -> int:
    raise NotImplementedError


# --------------------------------------------------------------------------- bench


def _import_benchmarks_suite():
    """``benchmarks.suite``, from the path or else from the current directory.

    The ``benchmarks`` package lives beside ``jaxopt_lab`` in the repository and
    is not installed with it; a console script does not put the current
    directory on ``sys.path``, so run ``jaxopt-lab bench`` from the repository
    root (or with ``PYTHONPATH`` set to it).
    """
    import importlib
    from pathlib import Path

    try:
        return importlib.import_module("benchmarks.suite")
    except ImportError:
        if not (Path.cwd() / "benchmarks" / "suite.py").exists():
            raise
        sys.path.insert(0, str(Path.cwd()))
        return importlib.import_module("benchmarks.suite")


def add_bench_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="run the benchmark suite (update, sweep, train) from the repository root",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run small enough for CI")
    parser.add_argument(
        "--out",
        help="directory for the JSON files and figure (default: benchmarks/results/<device>/ "
        "for a full run, nothing written for --quick)",
    )
    parser.add_argument("--only", help="comma-separated benchmarks to run (default: all present)")
    parser.set_defaults(run=run_bench)


def run_bench(args) -> int:
    try:
        suite = _import_benchmarks_suite()
    except ImportError as error:
        print(
            f"jaxopt-lab bench: cannot import the benchmarks package ({error}); it is not "
            "installed with jaxopt_lab: run this from the repository root",
            file=sys.stderr,
        )
        return 2
    return suite.run_from_args(args)


# --------------------------------------------------------------------------- main

SUBCOMMAND_PARSERS = [add_check_parser, add_bench_parser]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxopt-lab", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add_parser in SUBCOMMAND_PARSERS:
        add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
