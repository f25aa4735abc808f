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
    import numpy as np

    from jaxopt_lab import crosscheck

    libraries = crosscheck.available_libraries()
    missing = sorted(set(crosscheck.LIBRARIES) - set(libraries))
    print(
        f"Each lab optimizer against the seed, optax, torch.optim and Keras: {args.steps} steps "
        "of fixed N(0, 1) gradients from the same N(0, 1) params.\n"
        f"Tolerance where the formulas agree: {crosscheck.ULPS_PER_STEP:g} ulp of each leaf's "
        f"scale per step; float64 against the seed also relative error <= "
        f"{crosscheck.SEED_FLOAT64_RTOL:g}. 'rel': max|a-b|/max|b| per leaf, 'ulps': that in "
        "units of eps, 'elem ulps': largest elementwise ulp distance.\n"
    )
    columns = ["optimizer", "library", "lab", "other", "dtype"]
    columns += ["rel", "ulps", "elem ulps", "verdict"]
    lines = [columns]
    failures = 0
    for row in crosscheck.EQUIVALENCES:
        if row.library not in libraries:
            continue
        for dtype in (np.float32, np.float64):
            result = crosscheck.check_row(row, dtype, steps=args.steps)
            comparison = result.comparison
            verdict = "ok" if row.agrees else "differs, as documented"
            verdict = verdict if result.passed else "FAIL"
            failures += not result.passed
            dtype_name = np.dtype(dtype).name
            lines.append(
                [
                    row.optimizer,
                    row.library,
                    row.lab_call(),
                    row.other_call(),
                    dtype_name,
                    f"{comparison.max_rel_error[-1]:.2g}",
                    f"{comparison.max_scaled_ulps[-1]:.1f}",
                    f"{comparison.max_ulp_distance[-1]:.0f}",
                    verdict,
                ]
            )
            if result.failure:
                print(f"FAIL {row.optimizer} vs {row.library} ({dtype_name}): {result.failure}")
    print(_markdown_table(lines))
    if missing:
        print(
            f"\nNot checked (not installed): {', '.join(missing)}; "
            "pip install 'jaxopt-lab[crosscheck]'"
        )
    print(f"\n{len(lines) - 1 - failures} passed, {failures} failed")
    return 1 if failures else 0


def _markdown_table(rows: list[list[str]]) -> str:
    widths = [max(len(str(row[column])) for row in rows) for column in range(len(rows[0]))]

    def line(row):
        return "| " + " | ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) + " |"
    separator = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(rows[0]), separator, *map(line, rows[1:])])


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
