"""``jaxopt-lab port``: a torch.optim or Keras optimizer ported to lab/optax code and proven
equal."""

from __future__ import annotations

from pathlib import Path

from jaxopt_lab.cli.arguments import SEED, integer
from jaxopt_lab.files import write_json


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
    parser.add_argument(
        "--record",
        metavar="PATH",
        type=Path,
        help="with --matrix --conventions: write both tables' measurements, with the cases' "
        "fingerprint, as JSON to PATH (the docs render them: docs/results/port.json)",
    )
    parser.set_defaults(run=run_port, parser=parser)


def run_port(args) -> int:
    from jaxopt_lab.port import PortError
    from jaxopt_lab.port.command import port_optimizer

    if args.record is not None:
        if not (args.matrix and args.conventions):
            args.parser.error("--record needs --matrix and --conventions (it records both)")
        if not args.record.parent.is_dir():
            args.parser.error(f"--record: no folder {str(args.record.parent)!r} to write into")
        return _record_port_tables(args)
    if args.matrix or args.conventions:
        return _run_port_tables(args)
    if args.optimizer is None:
        args.parser.error("give an optimizer call, --matrix or --conventions")
    try:
        result = port_optimizer(
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
        )
    except (ValueError, PortError, ImportError) as error:
        args.parser.error(str(error))
    print(f"# {result.description}\n")
    print(result.code)
    print("\n".join(result.agreement_lines()))
    return 0 if result.failure is None else 1


def _run_port_tables(args) -> int:
    from jaxopt_lab.port import conventions, matrix

    failures = 0
    if args.matrix:
        table, failures = matrix.matrix_table(steps=args.steps)
        print(table + "\n")
    if args.conventions:
        print(conventions.conventions_table(steps=args.steps))
    return 1 if failures else 0


def _record_port_tables(args) -> int:
    from jaxopt_lab.port import record

    recorded = record.record(steps=args.steps)
    write_json(args.record, recorded)
    matrix_text, conventions_text = record.render_recorded(recorded)
    print(matrix_text + "\n\n" + conventions_text)
    return 1 if any(entry["failures"] for entry in recorded["matrix"]) else 0
