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

# --------------------------------------------------------------------------- trajectories

# The seed's figure: its four optimizers and learning rates; the others get
# rates that move visibly in 30 steps on the seed's bowl.
TRAJECTORY_LEARNING_RATES = {
    "sgd": 0.95,
    "momentum": 0.1,
    "adagrad": 1.5,
    "adam": 0.3,
    "nesterov": 0.1,
    "rmsprop": 0.3,
    "adamw": 0.3,
}


def _parse_optimizer_settings(parser, entries: Sequence[str]) -> dict[str, float]:
    """``["sgd", "adam=0.1"]`` -> ``{"sgd": 0.95, "adam": 0.1}``."""
    from jaxopt_lab.optimizers import OPTIMIZERS

    settings = {}
    for entry in entries:
        name, _, rate = entry.partition("=")
        if name not in OPTIMIZERS:
            parser.error(
                f"unknown optimizer {name!r} in --optimizers; valid optimizers: "
                f"{', '.join(OPTIMIZERS)}"
            )
        try:
            settings[name] = float(rate) if rate else TRAJECTORY_LEARNING_RATES[name]
        except ValueError:
            parser.error(f"--optimizers {entry!r}: the learning rate must be a number (NAME=LR)")
    return settings


def _parse_start(parser, text: str | None):
    if text is None:
        return None
    try:
        x, y = (float(part) for part in text.split(","))
    except ValueError:
        parser.error(f"--start must be two numbers X,Y, got {text!r}")
    return x, y


def _problem_from_args(parser, name: str):
    from jaxopt_lab.problems import PROBLEMS

    if name not in PROBLEMS:
        parser.error(f"unknown problem {name!r}; valid problems: {', '.join(PROBLEMS)}")
    return PROBLEMS[name]


def add_trajectories_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "trajectories",
        help="run optimizers on a 2-D problem; write the seed's figure and every position",
        description="Run each optimizer on a 2-D problem and write trajectories.png "
        "(one panel per optimizer) and trajectories.json (every position) to --out.",
    )
    parser.add_argument("--problem", default="seed_bowl", help="a name in PROBLEMS")
    parser.add_argument("--steps", type=int, default=30, help="updates per optimizer")
    parser.add_argument(
        "--optimizers",
        nargs="+",
        default=["sgd", "momentum", "adagrad", "adam"],
        metavar="NAME[=LR]",
        help="optimizers and learning rates (default: the seed's sgd=0.95 momentum=0.1 "
        "adagrad=1.5 adam=0.3)",
    )
    parser.add_argument("--start", help="X,Y (default: the problem's)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.set_defaults(run=run_trajectories, parser=parser)


def run_trajectories(args) -> int:
    import json
    from pathlib import Path

    import numpy as np

    from jaxopt_lab.optimizers import OPTIMIZERS
    from jaxopt_lab.plots import plot_trajectories
    from jaxopt_lab.sweep import trajectory

    parser = args.parser
    problem = _problem_from_args(parser, args.problem)
    if args.steps < 0:
        parser.error(f"--steps must be >= 0, got {args.steps}")
    settings = _parse_optimizer_settings(parser, args.optimizers)
    start = _parse_start(parser, args.start)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    positions, record = {}, {}
    for name, learning_rate in settings.items():
        try:
            optimizer = OPTIMIZERS[name](learning_rate)
        except ValueError as error:
            parser.error(f"--optimizers {name}={learning_rate}: {error}")
        path = np.asarray(trajectory(optimizer, problem, start, args.steps))
        label = f"{name} (lr={learning_rate:g})"
        positions[label] = path
        final_loss = float(problem.function(path[-1]))
        record[name] = {
            "learning_rate": learning_rate,
            "positions": [[float(x), float(y)] for x, y in path],
            "final_loss": final_loss if np.isfinite(final_loss) else None,
        }
        print(f"{label:24s} final position ({path[-1, 0]:.6g}, {path[-1, 1]:.6g})  "
              f"f = {final_loss:.6g}")
    plot_trajectories(positions, problem, path=out / "trajectories.png")
    first = next(iter(positions.values()))
    with open(out / "trajectories.json", "w") as file:
        json.dump(
            {
                "problem": problem.name,
                "steps": args.steps,
                "start": [float(first[0, 0]), float(first[0, 1])],
                "minima": [list(m) for m in problem.minima],
                "optimizers": record,
            },
            file,
            indent=1,
        )
    print(f"wrote {out / 'trajectories.png'} and {out / 'trajectories.json'}")
    return 0


# --------------------------------------------------------------------------- sweep


def parse_range(text: str):
    """``"learning_rate=1e-4:10:1000:log"`` -> ``("learning_rate", values)``.

    Forms: ``NAME=LOW:HIGH:COUNT[:log|:lin]`` (default lin), ``NAME=V1,V2,...``
    and ``NAME=V``. Raises ``ValueError`` with the accepted forms.
    """
    import numpy as np

    forms = "NAME=LOW:HIGH:COUNT[:log|:lin], NAME=V1,V2,... or NAME=V"
    name, equals, spec = text.partition("=")
    if not equals or not name.isidentifier() or not spec:
        raise ValueError(f"malformed --param {text!r}; expected {forms}")
    try:
        if ":" in spec:
            parts = spec.split(":")
            if len(parts) not in (3, 4):
                raise ValueError
            low, high, count = float(parts[0]), float(parts[1]), int(parts[2])
            scale = parts[3] if len(parts) == 4 else "lin"
            if count < 1 or scale not in ("log", "lin"):
                raise ValueError
            if scale == "log":
                if low <= 0 or high <= 0:
                    raise ValueError(f"--param {text!r}: a log range needs LOW, HIGH > 0")
                values = np.geomspace(low, high, count)
            else:
                values = np.linspace(low, high, count)
        else:
            values = np.array([float(part) for part in spec.split(",")])
    except ValueError as error:
        if str(error).startswith("--param"):
            raise
        raise ValueError(f"malformed --param {text!r}; expected {forms}") from None
    if not np.all(np.isfinite(values)):
        raise ValueError(f"--param {text!r}: values must be finite")
    return name, values


def add_sweep_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="sweep hyperparameters on a 2-D problem in one compiled, vmapped program",
        description="Run an optimizer for every point of a hyperparameter grid (the full "
        "product of the --param ranges) and write sweep.png, sweep.json and the best setting.",
    )
    parser.add_argument(
        "--optimizer", nargs="+", default=["adam"], metavar="NAME",
        help="one or more optimizers (one line or heatmap each)",
    )
    parser.add_argument(
        "--param", action="append", required=True, metavar="NAME=LOW:HIGH:COUNT[:log]",
        help="a swept hyperparameter (repeat for a grid), e.g. learning_rate=1e-4:10:1000:log",
    )
    parser.add_argument("--problem", default="seed_bowl", help="a name in PROBLEMS")
    parser.add_argument("--steps", type=int, default=30, help="updates per run")
    parser.add_argument("--start", help="X,Y (default: the problem's)")
    parser.add_argument("--chunk-size", type=int, help="most points run at once")
    parser.add_argument("--out", required=True, help="output directory")
    parser.set_defaults(run=run_sweep, parser=parser)


def run_sweep(args) -> int:
    import json
    from pathlib import Path

    from jaxopt_lab.optimizers import OPTIMIZERS
    from jaxopt_lab.plots import plot_sweep
    from jaxopt_lab.sweep import hyperparameter_names, sweep

    parser = args.parser
    problem = _problem_from_args(parser, args.problem)
    if args.steps < 0:
        parser.error(f"--steps must be >= 0, got {args.steps}")
    start = _parse_start(parser, args.start)
    grid = {}
    for text in args.param:
        try:
            name, values = parse_range(text)
        except ValueError as error:
            parser.error(str(error))
        if name in grid:
            parser.error(f"--param {name} is given twice")
        grid[name] = values
    if len(grid) > 2:
        parser.error(f"at most two --param axes can be drawn; got {', '.join(grid)}")
    for optimizer in args.optimizer:
        if optimizer not in OPTIMIZERS:
            parser.error(
                f"unknown optimizer {optimizer!r}; valid optimizers: {', '.join(OPTIMIZERS)}"
            )
        valid = hyperparameter_names(optimizer)
        unknown = [name for name in grid if name not in valid]
        if unknown:
            parser.error(
                f"unknown hyperparameter {unknown[0]!r} for {optimizer}; valid: {', '.join(valid)}"
            )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    results = {}
    for optimizer in args.optimizer:
        try:
            results[optimizer] = sweep(
                optimizer, grid, problem, start, args.steps, chunk_size=args.chunk_size
            )
        except ValueError as error:
            parser.error(f"{optimizer}: {error}")
    plot_sweep(results, path=out / "sweep.png")
    with open(out / "sweep.json", "w") as file:
        json.dump({name: result.to_dict() for name, result in results.items()}, file)
    for optimizer, result in results.items():
        points = result.final_loss.size
        diverged = int(result.diverged.sum())
        if diverged == points:
            print(f"{optimizer}: all {points} runs diverged")
            continue
        best, loss = result.best()
        setting = ", ".join(f"{name}={value:.6g}" for name, value in best.items())
        print(f"{optimizer}: best {setting}  final loss {loss:.6g}  "
              f"({diverged} of {points} runs diverged)")
    print(f"wrote {out / 'sweep.png'} and {out / 'sweep.json'}")
    return 0


# --------------------------------------------------------------------------- main

SUBCOMMAND_PARSERS = [add_check_parser, add_trajectories_parser, add_sweep_parser]


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
