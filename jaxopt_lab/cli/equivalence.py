"""``jaxopt-lab check`` and ``port``: the equivalence table, and a library's optimizer ported
to lab/optax code and proven equal."""

from __future__ import annotations

import sys

from tqdm import tqdm

from jaxopt_lab import equivalences
from jaxopt_lab.cli.arguments import SEED, integer


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
    parser.set_defaults(run=run_check, parser=parser)


def run_check(args) -> int:
    try:
        rows = equivalences.select(
            equivalences.EQUIVALENCES, optimizers_wanted=args.optimizer, libraries=args.library
        )
    except ValueError as error:
        args.parser.error(str(error))
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
        results = equivalences.run_table(rows, args.steps, on_result=report, updates=True)
    print(equivalences.render_markdown(results, args.steps))
    print("\nIn short:\n" + "\n".join(equivalences.in_short(rows)))
    if missing:
        print(
            f"\nNot checked (not installed): {', '.join(missing)}; "
            "pip install 'jaxopt-lab[crosscheck]'"
        )
    print(f"\n{len(results) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


def add_port_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "port",
        help="port a torch.optim or Keras optimizer to lab/optax code and prove it equal",
        description="Print the lab/optax code equivalent to a torch.optim (or Keras) optimizer "
        "with its scheduler and clipping, then run both on the same random gradients and "
        "print their per-step agreement. The texts are parsed as Python literals, never run. "
        "--matrix runs the port's whole test matrix; --conventions measures how far naive "
        "ports land from the library.",
    )
    parser.add_argument(
        "optimizer",
        nargs="?",
        help='e.g. "AdamW(lr=3e-4, weight_decay=0.1)"; '
        "param groups: \"AdamW([{'lr': 1e-3}, {'weight_decay': 0.0}], "
        'lr=3e-4)"',
    )
    parser.add_argument("--scheduler", help='e.g. "OneCycleLR(max_lr=1e-3, total_steps=1000)"')
    parser.add_argument("--clip-grad-norm", type=float, help="torch clip_grad_norm_ max_norm")
    parser.add_argument("--clip-norm-type", type=float, default=2.0, help="its norm_type")
    parser.add_argument("--clip-grad-value", type=float, help="torch clip_grad_value_")
    parser.add_argument(
        "--scheduler-every",
        type=integer(1, 10**9),
        default=1,
        help="optimizer steps per scheduler.step() (default 1)",
    )
    parser.add_argument("--from", dest="library", choices=("torch", "keras"), default="torch")
    parser.add_argument(
        "--steps", type=integer(1, 10**6), default=1000, help="steps to compare (default 1000)"
    )
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--seed", type=SEED, default=0, help="random seed of params and gradients")
    parser.add_argument(
        "--matrix",
        action="store_true",
        help="run every case of the port's matrix in float32 and float64",
    )
    parser.add_argument(
        "--conventions",
        action="store_true",
        help="measure each naive-port convention against the library",
    )
    parser.set_defaults(run=run_port, parser=parser)


def run_port(args) -> int:
    from jaxopt_lab.port import PortError
    from jaxopt_lab.port.command import port_run

    if args.matrix or args.conventions:
        return _run_port_tables(args)
    if args.optimizer is None:
        args.parser.error("give an optimizer call, --matrix or --conventions")
    try:
        run = port_run(
            args.optimizer,
            args.scheduler,
            library=args.library,
            clip_grad_norm=args.clip_grad_norm,
            clip_grad_value=args.clip_grad_value,
            clip_norm_type=args.clip_norm_type,
            scheduler_every=args.scheduler_every,
            steps=args.steps,
            dtype=args.dtype,
            seed=args.seed,
            updates=True,
        )
    except (ValueError, PortError, ImportError) as error:
        args.parser.error(str(error))
    print(f"# {run.description}\n")
    print(run.code)
    print("\n".join(run.report_lines()))
    return 0 if run.failure is None else 1


def _run_port_tables(args) -> int:
    from jaxopt_lab.port import conventions, matrix

    failures = 0
    if args.matrix:
        table, failures = matrix.matrix_table(steps=args.steps)
        print(table + "\n")
    if args.conventions:
        print(conventions.conventions_table(steps=args.steps))
    return 1 if failures else 0
