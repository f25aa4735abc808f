"""``jaxopt-lab tune``: one optimizer tuned on one workload, in a locked, resumable folder."""

from __future__ import annotations

import sys

from jaxopt_lab.cli.arguments import (
    SEED,
    add_out_argument,
    add_workload_data_argument,
    integer,
    use_workload_data,
)
from jaxopt_lab.data import MnistNotFoundError
from jaxopt_lab.optimizers import OPTIMIZERS
from jaxopt_lab.runs.training import RunError
from jaxopt_lab.workloads import WORKLOADS


def add_tune_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "tune", help="tune one optimizer on one workload: every trial in one compiled program",
    )  # fmt: skip
    parser.add_argument("--optimizer", required=True, help=f"one of {', '.join(OPTIMIZERS)}")
    parser.add_argument("--workload", required=True, help=f"one of {', '.join(WORKLOADS)}")
    parser.add_argument(
        "--space",
        default=None,
        metavar="FILE.json",
        help="AlgoPerf tuning_search_space.json (default: the optimizer's)",
    )
    parser.add_argument("--trials", type=integer(1, 10**5), default=16, help="trials per study")
    parser.add_argument("--studies", type=integer(1, 10**4), default=1, help="studies (seeds)")
    parser.add_argument("--seed", type=SEED, default=0, help="random seed of the first study")
    parser.add_argument("--steps", type=integer(1, 10**8), default=None,
                        help="step budget (default: the workload's)")  # fmt: skip
    parser.add_argument("--halving", type=integer(2, 100), default=None, metavar="ETA",
                        help="successive halving with reduction factor ETA")  # fmt: skip
    parser.add_argument("--schedule", choices=("warmup_cosine", "constant"),
                        default="warmup_cosine", help="learning-rate schedule")  # fmt: skip
    add_out_argument(parser)
    parser.add_argument("--resume", action="store_true",
                        help="read back a finished study in --out instead of refusing")  # fmt: skip
    add_workload_data_argument(parser)
    parser.set_defaults(run=run_tune, parser=parser)


def run_tune(args) -> int:
    from tqdm import tqdm

    from jaxopt_lab.runs.tune_folder import STUDY, TuneConfig, TuneRun
    from jaxopt_lab.tuning import SearchSpaceError, check_space, default_space, load_search_space
    from jaxopt_lab.tuning.study import StudyError

    parser = args.parser
    use_workload_data(args)
    if args.optimizer not in OPTIMIZERS:
        valid = ", ".join(OPTIMIZERS)
        parser.error(f"--optimizer: unknown {args.optimizer!r} (choose from {valid})")
    if args.workload not in WORKLOADS:
        parser.error(f"--workload: unknown {args.workload!r} (choose from {', '.join(WORKLOADS)})")
    try:
        space = load_search_space(args.space) if args.space else default_space(args.optimizer)
        check_space(args.optimizer, space)
    except SearchSpaceError as error:
        parser.error(f"--space: {error}")
    config = TuneConfig(args.optimizer, args.workload, space, args.trials, args.studies,
                        args.seed, args.steps, args.halving, args.schedule)  # fmt: skip
    bar = tqdm(total=args.studies, unit="study", desc=f"{args.optimizer} on {args.workload}",
               disable=None)  # fmt: skip

    def on_chunk(done: int, total: int) -> None:
        bar.update(done - bar.n)

    try:
        with TuneRun(args.out, config, resume=args.resume) as run:
            content, _ = run.run(on_chunk)
    except RunError as error:
        parser.error(str(error))
    except StudyError as error:
        parser.error(str(error))
    except MnistNotFoundError as error:
        print(f"jaxopt-lab tune: error: {error}", file=sys.stderr)
        return 1
    finally:
        bar.close()
    best = content["best_trials"]
    for row in best:
        print(f"study {row['study']}: best trial {row['trial']}, "
              f"{content['workload']['metric']} {row['validation_metric']:.4g}"
              f"{' (target reached)' if row['reached'] else ''}")  # fmt: skip
    print(f"lane-steps {content['lane_steps']} of {content['full_lane_steps']} "
          f"({content['compute_fraction']:.0%}); compiled in {content['compile_seconds']:.1f} s, "
          f"ran in {content['run_seconds']:.1f} s; wrote {args.out / STUDY}")  # fmt: skip
    return 0
