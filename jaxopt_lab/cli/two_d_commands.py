"""``jaxopt-lab trajectories``, ``sweep`` and ``explore``: the 2-D lab on the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxopt_lab.cli.arguments import (
    TUTORIAL_FOUR,
    add_optimizer_argument,
    add_out_argument,
    add_problem_arguments,
    check_grid,
    grid_axis,
    grid_from,
    integer,
    learning_rate_range,
    locked_out,
    problem_from,
    specs_from,
)
from jaxopt_lab.problems import PROBLEMS
from jaxopt_lab.report import explorer
from jaxopt_lab.runs.outputs import write_sweeps, write_trajectories


def add_trajectories_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "trajectories",
        help="run optimizers on a 2-D problem; write the tutorial's figure and every position",
        description="Run each optimizer on a 2-D problem and write trajectories.png "
        "(one panel per optimizer) and trajectories.json (every position) to --out.",
    )
    add_problem_arguments(parser, 30)
    add_optimizer_argument(
        parser, TUTORIAL_FOUR, "optimizers and settings; a bare NAME gets the tutorial's "
        "figure rate (sgd:0.95 momentum:0.1 adagrad:1.5 adam:0.3; default: those four)",
    )  # fmt: skip
    add_out_argument(parser)
    parser.set_defaults(run=run_trajectories, parser=parser)


def run_trajectories(args) -> int:
    problem = problem_from(args.parser, args.problem)
    specs = specs_from(args.parser, args.optimizer)
    with locked_out(args) as out:
        records = write_trajectories(out, specs, problem, args.start, args.steps)
    for record in records.values():
        x, y = record["positions"][-1]
        print(f"{record['label']:24s} final position ({x:.6g}, {y:.6g})  "
              f"f = {record['final_loss']:.6g}")  # fmt: skip
    print(f"wrote {out / 'trajectories.png'} and {out / 'trajectories.json'}")
    return 0


def add_sweep_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="sweep hyperparameters on a 2-D problem in one compiled, vmapped program",
        description="Run each optimizer for every point of a hyperparameter grid (the full "
        "product of the --param ranges). Writes sweep.json (the summary and the best "
        "setting), one Parquet file of every point's result per optimizer, and sweep.png "
        "(drawn from a bounded sample of the grid).",
    )
    add_optimizer_argument(parser, ["adam"], "one or more optimizers, with fixed settings")
    parser.add_argument(
        "--param", action="append", required=True, type=grid_axis,
        metavar="NAME=LOW:HIGH:COUNT[:log]",
        help="a swept hyperparameter (repeat for a grid), e.g. learning_rate=1e-4:10:1000:log",
    )  # fmt: skip
    add_problem_arguments(parser, 30)
    parser.add_argument("--chunk-size", type=integer(1, 2**31 - 1),
                        help="most points run at once (bounds memory)")  # fmt: skip
    add_out_argument(parser)
    parser.set_defaults(run=run_sweep, parser=parser)


def run_sweep(args) -> int:
    parser = args.parser
    problem = problem_from(parser, args.problem)
    specs = specs_from(parser, args.optimizer)
    grid = grid_from(parser, args.param)
    if len(grid) > 2:
        parser.error(f"at most two --param axes can be drawn; got {', '.join(grid)}")
    check_grid(parser, specs, grid)
    # In the run's dtype (float32) once, as sweep() would per optimizer: 4 bytes a point.
    grid = {name: values.astype("float32", copy=False) for name, values in grid.items()}
    args.param = None  # drop the float64 originals
    with locked_out(args) as out:
        summaries = write_sweeps(out, specs, grid, problem, args.start, args.steps,
                                 args.chunk_size)  # fmt: skip
    for label, summary in summaries.items():
        if summary.best is None:
            print(f"{label}: all {summary.point_count} runs diverged")
            continue
        best, loss = summary.best
        setting = ", ".join(f"{name}={value:.6g}" for name, value in best.items())
        print(f"{label}: best {setting}  final loss {loss:.6g}  "
              f"({summary.diverged_count} of {summary.point_count} runs diverged)")  # fmt: skip
    print(f"wrote {out / 'sweep.png'}, {out / 'sweep.json'} and "
          f"{', '.join(str(s.path.name) for s in summaries.values())}")  # fmt: skip
    return 0


def add_explore_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "explore",
        help="write report.html: drag a learning rate and watch every optimizer move",
        description="Sweep each optimizer over a learning-rate grid on each 2-D problem, keep "
        "every position, and write one self-contained page, report.html, to --out: a "
        "learning-rate and a step slider per optimizer, the problem to choose. --run adds "
        "an MNIST run's loss curves, an mnist-sweep's loss against learning rate, or a "
        "leaderboard's profiles and curves.",
    )
    parser.add_argument("--problem", nargs="+", default=list(PROBLEMS), metavar="NAME",
                        help=f"2-D problems (default: all, {' '.join(PROBLEMS)})")  # fmt: skip
    add_optimizer_argument(
        parser, list(explorer.EXPLORER_OPTIMIZERS), "optimizers and fixed settings; the rate, "
        "if given, is where its slider opens (default: the tutorial's five, opening at its "
        "figure's rates)",
    )  # fmt: skip
    low, high, count = explorer.EXPLORER_GRID
    parser.add_argument("--learning-rates", type=learning_rate_range,
                        default=explorer.EXPLORER_GRID, metavar="LOW:HIGH:COUNT",
                        help=f"the sliders' grid, log-spaced (default {low:g}:{high:g}:{count}); "
                        "each optimizer's opening rate is added")  # fmt: skip
    parser.add_argument("--steps", type=integer(1, 10_000), default=30, help="updates per run")
    parser.add_argument("--run", nargs="+", type=Path, default=[], metavar="FOLDER", dest="runs",
                        help="also show these runs: an mnist run or demo folder (loss "
                        "curves, test accuracy), an mnist-sweep folder or a leaderboard folder "
                        "(scores, profiles, curves)")  # fmt: skip
    add_out_argument(parser)
    parser.set_defaults(run=run_explore, parser=parser)


def run_explore(args) -> int:
    parser = args.parser
    problems = [problem_from(parser, name).name for name in args.problem]
    if len(set(problems)) != len(problems):
        parser.error("--problem: a problem is listed twice")
    specs = specs_from(parser, args.optimizer)
    low, high, count = args.learning_rates
    for spec in specs:
        fixed = {k: v for k, v in spec.settings.items() if k != "learning_rate"}
        try:
            for rate in (low, high):
                spec.build(**fixed, learning_rate=rate)
        except (TypeError, ValueError) as error:
            parser.error(f"--learning-rates for {spec.label}: {error}")
    size = explorer.embedded_bytes(len(problems), len(specs), count + len(specs), args.steps)
    if size > explorer.MAX_EMBEDDED_BYTES:
        parser.error(
            f"--learning-rates x --steps: the page would embed {size / 1e6:.0f} MB of "
            f"trajectories, more than {explorer.MAX_EMBEDDED_BYTES / 1e6:.0f} MB; use fewer "
            "learning rates, steps, optimizers or problems"
        )
    try:
        runs = [explorer.run_section(folder) for folder in args.runs]
    except explorer.RunFolderError as error:
        parser.error(f"--run: {error}")
    rates = np.geomspace(low, high, count)
    with locked_out(args) as out:
        two_d = explorer.explore_two_d(specs, problems, rates, args.steps)
        path = explorer.write_explore_page(out, explorer.explore_report(two_d, runs))
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB): {len(specs)} optimizers x "
          f"{len(problems)} problems x {len(two_d.learning_rates)} learning rates x "
          f"{args.steps + 1} positions")  # fmt: skip
    return 0
