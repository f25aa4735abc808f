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
        help='e.g. "AdamW(lr=3e-4, weight_decay=0.1)", or the line as written: '
        '"torch.optim.AdamW(model.parameters(), lr=3e-4)"; param groups: '
        "\"AdamW([{'lr': 1e-3}, {'weight_decay': 0.0}], lr=3e-4)\" (their params ignored)",
    )
    parser.add_argument(
        "--scheduler",
        help='e.g. "OneCycleLR(max_lr=1e-3, total_steps=1000)" or '
        '"torch.optim.lr_scheduler.OneCycleLR(optimizer, ...)"; the ported schedule is '
        "torch's values, bit for bit, for --steps steps, and its closed form past them",
    )
    parser.add_argument("--clip-grad-norm", type=float, help="torch clip_grad_norm_ max_norm")
    parser.add_argument("--clip-norm-type", type=float, default=2.0, help="its norm_type")
    parser.add_argument("--clip-grad-value", type=float, help="torch clip_grad_value_")
    parser.add_argument(
        "--scheduler-every",
        type=integer(1, 10**9),
        default=None,
        help="optimizer steps per scheduler.step() (default 1)",
    )
    parser.add_argument(
        "--from",
        dest="library",
        choices=("torch", "keras"),
        default=None,
        help="the library (default: from the call's qualifier, e.g. keras.optimizers.Adam; "
        "else torch)",
    )
    parser.add_argument(
        "--from-file",
        metavar="SCRIPT",
        help="read the optimizer, scheduler and clipping from a training script's syntax tree "
        "(never imported or run); values bound at run time are asked for with --set",
    )
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME.KEY=VALUE",
        help="with --from-file: a value the script binds at run time, e.g. "
        "--set OneCycleLR.total_steps=2000 (a bare KEY where it is unambiguous)",
    )
    parser.add_argument(
        "--emit",
        choices=("lab", "optax"),
        default="lab",
        help="lab (default): lab/optax code; optax: plain optax code where an exact optax "
        "equivalent exists (with its measured distance), else the lab code and why",
    )
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

    if args.record is not None:
        if not (args.matrix and args.conventions):
            args.parser.error("--record needs --matrix and --conventions (it records both)")
        if not args.record.parent.is_dir():
            args.parser.error(f"--record: no folder {str(args.record.parent)!r} to write into")
        return _record_port_tables(args)
    if args.matrix or args.conventions:
        return _run_port_tables(args)
    if args.settings and not args.from_file:
        args.parser.error("--set fills values of a script read with --from-file")
    if args.from_file and args.optimizer is not None:
        args.parser.error("give an optimizer call or --from-file, not both")
    if args.optimizer is None and not args.from_file:
        args.parser.error(
            "give an optimizer call, --matrix or --conventions (or --from-file SCRIPT)"
        )
    try:
        inputs = _port_inputs(args)
        result = _port(args, inputs)
    except (ValueError, PortError, ImportError) as error:
        args.parser.error(_one_line(str(error)))
    print(f"# {result.description}\n")
    print(result.code)
    print("\n".join(result.agreement_lines()))
    return 0 if result.failure is None else 1


def _one_line(message: str, limit: int = 500) -> str:
    """An error message as one line of at most about ``limit`` characters."""
    message = " ".join(message.split("\n"))
    return (
        message if len(message) <= limit else f"{message[: limit - 50]}... ({len(message)} chars)"
    )


def _port_inputs(args) -> dict:
    """The port's arguments: from the command line, or from a script (its findings printed,
    what it binds at run time asked for in one line)."""
    inputs = {
        "optimizer": args.optimizer,
        "scheduler": args.scheduler,
        "library": args.library,
        "clip_grad_norm": args.clip_grad_norm,
        "clip_grad_value": args.clip_grad_value,
        "clip_norm_type": args.clip_norm_type,
        "scheduler_every": args.scheduler_every or 1,
    }
    if not args.from_file:
        return inputs
    from jaxopt_lab.port import script
    from jaxopt_lab.port.call_text import parse_value

    settings = {}
    for setting in args.settings:
        key, equals, value = setting.partition("=")
        if not equals or not key.strip():
            raise ValueError(f"--set {setting[:200]!r}: expected NAME.KEY=VALUE")
        if key.strip() in settings:
            raise ValueError(f"--set {key.strip()!r} is given twice")
        settings[key.strip()] = parse_value(value, what=f"--set {key.strip()}")
    reading = script.read_script(script.read_file(args.from_file), filename=args.from_file)
    reading = script.with_settings(reading, settings)
    print("\n".join(script.report_lines(reading)) + "\n")
    requests = [
        ask
        for ask in reading.requests()
        if not (ask.startswith("--scheduler-every") and args.scheduler_every)
    ]
    if requests:
        raise ValueError(
            f"{args.from_file} binds these at run time; give them: {' '.join(requests)}"
        )
    if args.library is not None and args.library != reading.library:
        raise ValueError(
            f"{args.from_file} holds a {reading.library} optimizer, not {args.library}"
        )
    inputs.update(optimizer=script.optimizer_text(reading), library=reading.library)
    if args.scheduler is None:
        inputs["scheduler"] = script.scheduler_text(reading)
    if args.clip_grad_norm is None and args.clip_grad_value is None:
        inputs.update(script.clip_arguments(reading))
    if args.scheduler_every is None and reading.scheduler_every is not None:
        inputs["scheduler_every"] = reading.scheduler_every
    return inputs


def _port(args, inputs: dict):
    from jaxopt_lab.port.command import port_optimizer

    return port_optimizer(
        **inputs, steps=args.steps, dtype=args.dtype, seed=args.seed, emit=args.emit, updates=True
    )


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
