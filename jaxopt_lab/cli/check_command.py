"""``jaxopt-lab check``: the equivalence table against the installed libraries."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

from tqdm import tqdm

from jaxopt_lab import equivalences
from jaxopt_lab.cli.arguments import integer
from jaxopt_lab.files import write_json


def add_check_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "check",
        help="cross-check every lab optimizer against the tutorial, optax, torch.optim and Keras",
        description="Run the equivalence table (jaxopt_lab.equivalences) against the installed "
        "libraries and print it, grouped by optimizer; exit 1 if a row leaves its bound.",
    )
    parser.add_argument("--steps", type=integer(1, 10**6), default=1000,
                        help="steps per row (default 1000)")  # fmt: skip
    parser.add_argument("--optimizer", nargs="+", metavar="NAME", help="only these lab optimizers")
    parser.add_argument(
        "--library",
        nargs="+",
        metavar="NAME",
        help="only these libraries (tutorial, optax, torch, keras)",
    )
    parser.add_argument(
        "--record",
        metavar="PATH",
        type=Path,
        help="also write what each row measured, with the rows' fingerprint, as JSON to PATH "
        "(the docs' tables are rendered from it: docs/results/equivalences.json)",
    )
    parser.set_defaults(run=run_check, parser=parser)


def _versions() -> dict[str, str | None]:
    """The installed version of each library the table runs, ``None`` where missing."""
    versions = {}
    for name in ("jax", "optax", "numpy", "torch", "keras"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def run_check(args) -> int:
    try:
        rows = equivalences.select(
            equivalences.EQUIVALENCES, optimizers_wanted=args.optimizer, libraries=args.library
        )
    except ValueError as error:
        args.parser.error(str(error))
    if args.record is not None and not args.record.parent.is_dir():
        args.parser.error(f"--record: no folder {str(args.record.parent)!r} to write into")
    missing = sorted(set(equivalences.LIBRARIES) - set(equivalences.available_libraries()))
    print(
        f"Each lab optimizer against the tutorial, optax, torch.optim and Keras: {args.steps} "
        "steps of fixed N(0, 1) gradients from the same N(0, 1) params, in float32 and float64.\n"
        f"Bound where the formulas agree: {equivalences.FLAT_ULPS:g} ulps of each leaf's scale "
        "(max|a-b| / max|b| per leaf, in units of the dtype's eps) at every step, plus a "
        "documented growth per step for rows that round differently by design.\n"
    )
    failures, total = [], 2 * sum(1 for row in rows if row.library not in missing and row.other)
    progress = tqdm(total=total, file=sys.stderr, unit="row", leave=False,
                    disable=not sys.stderr.isatty())  # fmt: skip

    def report(result):
        progress.set_postfix_str(result.row.name, refresh=False)
        progress.update()
        if not result.passed:
            failures.append(result)
            progress.write(f"FAIL {result.row.name} ({result.dtype}): {result.failure}",
                           file=sys.stdout)  # fmt: skip

    with progress:
        results = equivalences.check_rows(rows, args.steps, on_result=report, updates=True)
    print(equivalences.render_markdown(results, args.steps))
    if args.record is not None:
        recorded = equivalences.render.record(results, rows, args.steps, _versions())
        write_json(args.record, recorded)
    print("\nIn short:\n" + "\n".join(equivalences.in_short(rows)))
    if missing:
        print(
            f"\nNot checked (not installed): {', '.join(missing)}; "
            "pip install 'jaxopt-lab[crosscheck]'"
        )
    print(f"\n{len(results) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0
