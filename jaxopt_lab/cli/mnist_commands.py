"""``jaxopt-lab mnist``, ``mnist-sweep`` and ``demo``: the MNIST lab on the command line."""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np

from jaxopt_lab.cli.arguments import (
    SEED,
    TUTORIAL_FOUR,
    add_data_arguments,
    add_optimizer_argument,
    add_out_argument,
    add_training_arguments,
    check_grid,
    data_loader,
    grid_axis,
    grid_from,
    integer,
    locked_out,
    run_config,
    specs_from,
)
from jaxopt_lab.cli.console import TutorialLog
from jaxopt_lab.grid import parse_grid_axis
from jaxopt_lab.mnist import DEFAULT_SIZES
from jaxopt_lab.report.tables import markdown_table
from jaxopt_lab.runs import demo
from jaxopt_lab.runs.outputs import write_mnist_sweep
from jaxopt_lab.runs.training import RESULT_HEADERS, RunError, TrainingRun, result_rows


def add_mnist_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "mnist",
        help="the tutorial's MNIST comparison: every optimizer trained side by side, one program",
    )
    add_optimizer_argument(
        parser,
        TUTORIAL_FOUR,
        "optimizers and settings (default: the tutorial's four, its defaults)",
    )
    add_training_arguments(parser, 2000)
    parser.add_argument("--seed", type=SEED, default=0, help="random seed (weights, batches)")
    add_out_argument(parser)
    parser.add_argument("--checkpoint-every", type=integer(1, 10**7), default=None, metavar="N",
                        help="save a checkpoint in --out every N iterations")  # fmt: skip
    parser.add_argument("--resume", action="store_true",
                        help="continue from the checkpoint in --out")  # fmt: skip
    # For the kill-and-resume test: sleep after each chunk, so a run can be killed mid-way.
    parser.add_argument("--pause-after-chunk", type=float, default=0.0, help=argparse.SUPPRESS)
    add_data_arguments(parser)
    parser.set_defaults(run=run_mnist, parser=parser)


def run_mnist(args) -> int:
    parser = args.parser
    specs = specs_from(parser, args.optimizer)
    config = run_config(args, specs)
    run = TrainingRun(args.out, config, checkpoint_every=args.checkpoint_every,
                      resume=args.resume)  # fmt: skip
    try:
        with run:
            if run.start_iteration:
                print(f"resuming from iteration {run.start_iteration} ({args.out})",
                      file=sys.stderr)  # fmt: skip
            elif args.resume:
                print(f"no checkpoint in {args.out}; starting from iteration 0", file=sys.stderr)
            data = data_loader(args)()
            log = TutorialLog(args.iterations, run.start_iteration)

            def on_chunk(chunk) -> None:
                args.ctrl_c.deferrable = True
                log(chunk)
                if args.pause_after_chunk:
                    time.sleep(args.pause_after_chunk)

            try:
                result = run.train(data, on_chunk, args.ctrl_c.stop)
            finally:
                log.close()
    except RunError as error:
        parser.error(str(error))
    summary = result.summary
    if result.interrupted:
        print(f"interrupted at iteration {summary['iterations_done']}; wrote what there is "
              f"to {args.out}", file=sys.stderr)  # fmt: skip
        return 130
    print(markdown_table(result_rows(summary), RESULT_HEADERS, align=["left", "right", "right"]))
    print(f"compiled in {summary['compile_seconds']:.1f} s, ran in {summary['run_seconds']:.1f} "
          f"s; wrote {args.out / 'losses.json'} and {args.out / 'loss_curves.png'}")  # fmt: skip
    return 0


def add_mnist_sweep_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "mnist-sweep",
        help="train a network for every point of a grid x seeds at once; final loss vs setting",
    )
    add_optimizer_argument(parser, "adam", "one optimizer, with fixed settings (default: adam)",
                           several=False)  # fmt: skip
    parser.add_argument(
        "--param", action="append", type=grid_axis, metavar="NAME=LOW:HIGH:COUNT[:log]",
        help="a swept hyperparameter, repeat for a grid (default: "
        "learning_rate=1e-4,3e-4,1e-3,3e-3,1e-2,3e-2,1e-1)",
    )  # fmt: skip
    parser.add_argument("--seed", type=SEED, nargs="+", default=[0, 1],
                        help="random seeds, one network each per grid point")  # fmt: skip
    add_training_arguments(parser, 500)
    add_out_argument(parser)
    add_data_arguments(parser)
    parser.set_defaults(run=run_mnist_sweep, parser=parser)


def run_mnist_sweep(args) -> int:
    parser = args.parser
    (spec,) = specs_from(parser, args.optimizer)
    default = "learning_rate=1e-4,3e-4,1e-3,3e-3,1e-2,3e-2,1e-1"
    grid = grid_from(parser, args.param or [parse_grid_axis(default)])
    check_grid(parser, [spec], grid)
    if len(set(args.seed)) != len(args.seed):
        parser.error("--seed: a seed is listed twice")
    networks = math.prod(len(v) for v in grid.values()) * len(args.seed)
    if networks > 100_000:
        parser.error(f"--param x --seed: {networks} networks; at most 100,000 at once")
    with locked_out(args) as out:
        data = data_loader(args)()
        result = write_mnist_sweep(out, spec, grid, data, args.iterations, args.batch_size,
                                   args.seed, args.sizes or DEFAULT_SIZES)  # fmt: skip
    first, mean_axes = next(iter(grid)), tuple(range(1, result.final_loss.ndim))
    rows = zip(result.axes[first], np.mean(result.final_loss, axis=mean_axes),
               np.mean(result.test_accuracy, axis=mean_axes), strict=True)  # fmt: skip
    print(markdown_table([[f"{v:.3g}", f"{loss:.4f}", f"{acc:.4f}"] for v, loss, acc in rows],
                         [first, "final train loss (mean)", "test accuracy (mean)"],
                         align=["right"] * 3))  # fmt: skip
    print(f"{networks} networks on {result.device_count} device(s): compiled in "
          f"{result.compile_seconds:.1f} s, trained in {result.run_seconds:.1f} s "
          f"({networks / result.run_seconds:.2f} networks/s); wrote {out / 'sweep.json'} "
          f"and {out / 'sweep.png'}")  # fmt: skip
    return 0


def add_demo_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="both of the tutorial's experiments end to end, with a report "
        "(report.md, and report.html where the figures are interactive)",
    )  # fmt: skip
    add_out_argument(parser)
    add_training_arguments(parser, 2000)
    parser.add_argument("--seed", type=SEED, default=0, help="random seed (weights, batches)")
    add_data_arguments(parser)
    parser.set_defaults(run=run_demo, parser=parser)


def run_demo(args) -> int:
    config = demo.tutorial_config(args.iterations, args.batch_size, args.seed, args.sizes)
    log = TutorialLog(args.iterations)

    def on_chunk(chunk) -> None:
        args.ctrl_c.deferrable = True
        log(chunk)

    try:
        with locked_out(args):
            result = demo.run_demo(args.out, config, data_loader(args), on_chunk,
                                   args.ctrl_c.stop)  # fmt: skip
    except RunError as error:
        args.parser.error(str(error))
    finally:
        log.close()
    for path in result.files:
        print(f"wrote {path}")
    if result.missing_data:
        print(f"jaxopt-lab demo: error: {result.missing_data}", file=sys.stderr)
        return 2
    return 130 if result.run.interrupted else 0
