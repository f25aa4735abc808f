"""``jaxopt-lab leaderboard``: optimizers tuned on workloads and scored as AlgoPerf scores."""

from __future__ import annotations

import sys
from pathlib import Path

from jaxopt_lab.cli.arguments import (
    SEED,
    add_out_argument,
    add_workload_data_argument,
    integer,
    use_workload_data,
)
from jaxopt_lab.data import MnistNotFoundError
from jaxopt_lab.optimizers import OPTIMIZERS
from jaxopt_lab.runs.leaderboard_folder import LeaderboardRun
from jaxopt_lab.tuning.leaderboard import (
    DEFAULT_OPTIMIZERS,
    DEFAULT_WORKLOADS,
    LeaderboardConfig,
    LeaderboardError,
    scores_markdown,
)
from jaxopt_lab.tuning.search_space import SearchSpaceError, load_search_space


def add_leaderboard_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "leaderboard",
        help="tune several optimizers on several workloads (AlgoPerf's external tuning) and "
        "score them by time to target: performance profiles and leaderboard scores",
    )
    parser.add_argument("--optimizer", nargs="+", default=list(DEFAULT_OPTIMIZERS),
                        metavar="NAME", help="optimizers (default: %(default)s)")  # fmt: skip
    parser.add_argument("--workload", nargs="+", default=list(DEFAULT_WORKLOADS),
                        metavar="NAME", help="workloads (default: %(default)s)")  # fmt: skip
    parser.add_argument("--trials", type=integer(1, 10**6), default=5,
                        help="trials per study (default: 5)")  # fmt: skip
    parser.add_argument(
        "--studies",
        type=integer(1, 10**4),
        default=3,
        help="studies per optimizer and workload, each its own seed (default: 3)",
    )
    parser.add_argument("--seed", type=SEED, default=0, help="random seed of the studies")
    parser.add_argument(
        "--halving",
        type=integer(2, 1000),
        default=None,
        metavar="ETA",
        help="successive halving with reduction factor ETA inside each study",
    )
    parser.add_argument(
        "--space", action="append", default=[], metavar="[OPTIMIZER=]FILE",
        help="a tuning_search_space.json (AlgoPerf's format) for OPTIMIZER, or for every "
        "optimizer without OPTIMIZER= (default: each optimizer's default space)",
    )  # fmt: skip
    parser.add_argument("--steps", action="append", default=[], metavar="WORKLOAD=N",
                        help="a step budget replacing the workload's own")  # fmt: skip
    add_workload_data_argument(parser)
    add_out_argument(parser)
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the leaderboard in --out (its finished cells are kept)",
    )
    parser.set_defaults(run=run_leaderboard, parser=parser)


def _spaces(parser, values: list[str], optimizers: list[str]) -> dict:
    spaces = {}
    for value in values:
        name, separator, path = value.partition("=")
        if not (separator and name in OPTIMIZERS):  # a path, for every optimizer
            name, path = "", value
        targets = [name] if name else optimizers
        try:
            space = load_search_space(Path(path))
        except SearchSpaceError as error:
            parser.error(f"--space: {error}")
        for target in targets:
            spaces[target] = space
    return spaces


def _steps(parser, values: list[str]) -> dict:
    steps = {}
    for value in values:
        name, separator, count = value.partition("=")
        if not separator or not count.strip().isdigit() or int(count) < 1:
            parser.error(f"--steps: expected WORKLOAD=N with N a positive integer, got {value!r}")
        steps[name] = int(count)
    return steps


def run_leaderboard(args) -> int:
    parser = args.parser
    use_workload_data(args)
    config = LeaderboardConfig(
        optimizers=tuple(args.optimizer),
        workloads=tuple(args.workload),
        trials=args.trials,
        studies=args.studies,
        seed=args.seed,
        halving=args.halving,
        spaces=_spaces(parser, args.space, args.optimizer),
        steps=_steps(parser, args.steps),
    )
    try:
        run = LeaderboardRun(args.out, config, resume=args.resume)
    except LeaderboardError as error:
        parser.error(str(error))
    from tqdm import tqdm

    cells = len(config.optimizers) * len(config.workloads)
    try:
        with run, tqdm(total=cells, unit="study", file=sys.stderr, dynamic_ncols=True) as bar:

            def on_cell(cell, resumed) -> None:
                args.ctrl_c.deferrable = True
                steps = cell.steps_to_target
                shown = "missed" if steps == float("inf") else f"{steps:.0f} steps"
                bar.set_postfix_str(f"{cell.workload}/{cell.optimizer}: {shown}"
                                    + (" (resumed)" if resumed else ""))  # fmt: skip
                bar.update()

            result = run.run(on_cell=on_cell, stop=args.ctrl_c.stop)
    except LeaderboardError as error:
        parser.error(str(error))
    except MnistNotFoundError as error:
        print(f"jaxopt-lab leaderboard: error: {error}", file=sys.stderr)
        return 1
    if result.interrupted:
        print(f"interrupted after {len(result.cells)} of {cells} studies; they are kept in "
              f"{args.out} (--resume continues)", file=sys.stderr)  # fmt: skip
        return 130
    print(scores_markdown(result.scores))
    print(f"\n{len(result.cells)} studies in {result.wall_seconds:.0f} s; wrote "
          + ", ".join(str(path) for path in result.files))  # fmt: skip
    return 0
