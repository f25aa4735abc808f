"""The ``jaxopt-lab`` command: parses arguments and calls the library; nothing else.

Each subcommand is a pair of functions: ``add_<name>_parser(subparsers)`` that
declares its arguments, and ``run_<name>(args) -> int`` that calls the library
and returns the exit status. One grammar everywhere (:mod:`jaxopt_lab.optimizer_spec`):
``--optimizer NAME[:LR][,KEY=VALUE...] ...`` chooses optimizers and their
settings, ``--param NAME=LOW:HIGH:COUNT[:log]`` sweeps one; ``--seed`` is a
random seed. Every bad input ends in ``parser.error`` (one line, exit 2),
before any data is loaded or any training starts.

The subcommands live by lab: :mod:`~jaxopt_lab.cli.two_d_commands` (trajectories, sweep,
explore), :mod:`~jaxopt_lab.cli.mnist_commands` (mnist, mnist-sweep, demo),
:mod:`~jaxopt_lab.cli.check_command` (check),
:mod:`~jaxopt_lab.cli.port_command` (port), :mod:`~jaxopt_lab.cli.tune_command` (tune),
:mod:`~jaxopt_lab.cli.leaderboard_command` (leaderboard); their shared argument types in
:mod:`~jaxopt_lab.cli.arguments`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from jaxopt_lab.bench import suite
from jaxopt_lab.cli.check_command import add_check_parser
from jaxopt_lab.cli.console import CtrlC
from jaxopt_lab.cli.leaderboard_command import add_leaderboard_parser
from jaxopt_lab.cli.mnist_commands import add_demo_parser, add_mnist_parser, add_mnist_sweep_parser
from jaxopt_lab.cli.port_command import add_port_parser
from jaxopt_lab.cli.tune_command import add_tune_parser
from jaxopt_lab.cli.two_d_commands import (
    add_explore_parser,
    add_sweep_parser,
    add_trajectories_parser,
)
from jaxopt_lab.files import WriteError


def add_bench_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench", help="run the benchmark suite (" + ", ".join(suite.BENCHMARKS) + ")",
    )  # fmt: skip
    suite.add_arguments(parser)
    parser.set_defaults(run=run_bench, parser=parser)


def run_bench(args) -> int:
    return suite.run_from_args(args)


# --------------------------------------------------------------------------- main

SUBCOMMAND_PARSERS = [
    add_check_parser,
    add_trajectories_parser,
    add_sweep_parser,
    add_mnist_parser,
    add_mnist_sweep_parser,
    add_demo_parser,
    add_explore_parser,
    add_bench_parser,
    add_port_parser,
    add_tune_parser,
    add_leaderboard_parser,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxopt-lab",
        description="jaxopt_lab: a laboratory for first-order optimizers in JAX.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add_parser in SUBCOMMAND_PARSERS:
        add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    with CtrlC(args.command) as args.ctrl_c:
        try:
            return args.run(args)
        except WriteError as error:  # a full disk, a file-size limit: an environment fault
            print(f"jaxopt-lab {args.command}: error: {error}", file=sys.stderr)
            return 1
