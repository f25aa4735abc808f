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


# --------------------------------------------------------------------------- main

SUBCOMMAND_PARSERS = [add_check_parser]


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
