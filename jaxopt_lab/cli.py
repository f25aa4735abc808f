"""The ``jaxopt-lab`` command: parses arguments and calls the library; nothing else.

Each subcommand is a pair of functions: ``add_<name>_parser(subparsers)`` that
declares its arguments, and ``run_<name>(args) -> int`` that calls the library
and returns the exit status. One grammar everywhere (:mod:`jaxopt_lab.specs`):
``--optimizer NAME[:LR][,KEY=VALUE...] ...`` chooses optimizers and their
settings, ``--param NAME=LOW:HIGH:COUNT[:log]`` sweeps one; ``--seed`` is a
random seed. Every bad input ends in ``parser.error`` (one line, exit 2),
before any data is loaded or any training starts.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from jaxopt_lab import demo, equivalences
from jaxopt_lab.bench import suite
from jaxopt_lab.console import CtrlC, TutorialLog
from jaxopt_lab.data import CorruptIdxFileError, MnistNotFoundError, load_mnist
from jaxopt_lab.files import check_writable_folder
from jaxopt_lab.grid import grid_axes, with_settings
from jaxopt_lab.mnist import DEFAULT_SIZES
from jaxopt_lab.outputs import write_mnist_sweep, write_sweeps, write_trajectories
from jaxopt_lab.problems import PROBLEMS
from jaxopt_lab.report import markdown_table
from jaxopt_lab.runs import RESULT_HEADERS, RunConfig, RunError, TrainingRun, result_rows
from jaxopt_lab.specs import parse_grid_axis, parse_optimizer

# --------------------------------------------------------------------------- argument types


def integer(low: int, high: int):
    """An argparse type: an integer in [low, high] (``1e6`` is accepted for 1000000)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            value = int(number) if math.isfinite(number) and number == int(number) else None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"expected an integer in [{low}, {high:,}], got {text!r}"
            )
        return value

    return parse


def optimizer_spec(text: str):
    try:
        return parse_optimizer(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def grid_axis(text: str):
    try:
        return parse_grid_axis(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def start_point(text: str) -> tuple[float, float]:
    try:
        x, y = (float(part) for part in text.split(","))
    except ValueError:
        x = y = math.nan
    if not (math.isfinite(x) and math.isfinite(y)):
        raise argparse.ArgumentTypeError(f"expected two finite numbers X,Y, got {text!r}")
    return x, y


SEED = integer(0, 2**32 - 1)
MAX_GRID_POINTS = 10**9


def add_optimizer_argument(parser, default, help_text: str, *, several: bool = True) -> None:
    parser.add_argument(
        "--optimizer", nargs="+" if several else None, type=optimizer_spec, default=default,
        metavar="NAME[:LR][,KEY=VALUE...]", help=help_text,
    )  # fmt: skip


def add_out_argument(parser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="output folder")


def writable_out(args) -> Path:
    try:
        return check_writable_folder(args.out)
    except OSError as error:
        args.parser.error(f"--out: {error.strerror or error}")


def specs_from(parser, values) -> tuple:
    """The parsed ``--optimizer`` values (argparse leaves defaults unparsed), each once."""
    values = values if isinstance(values, list | tuple) else [values]
    specs = tuple(optimizer_spec(v) if isinstance(v, str) else v for v in values)
    labels = [spec.label for spec in specs]
    for label in labels:
        if labels.count(label) > 1:
            parser.error(f"--optimizer {label!r} is listed twice")
    return specs


def grid_from(parser, axes) -> dict:
    grid = {}
    for name, values in axes:
        if name in grid:
            parser.error(f"--param {name} is given twice")
        grid[name] = values
    if math.prod(len(values) for values in grid.values()) > MAX_GRID_POINTS:
        parser.error(f"--param: the grid holds more than {MAX_GRID_POINTS:.0e} points")
    return grid


def check_grid(parser, specs, grid) -> None:
    """Each optimizer accepts every swept name and every value (before anything runs)."""


    extremes = {name: np.array([values.min(), values.max()]) for name, values in grid.items()}
    for spec in specs:
        try:
            grid_axes(with_settings(spec.name, spec.settings), extremes, np.float64)
        except ValueError as error:
            parser.error(f"--param for {spec.label}: {error}")


# --------------------------------------------------------------------------- check


def add_check_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "check",
        help="cross-check every lab optimizer against the tutorial, optax, torch.optim and Keras",
        description="Run the equivalence table (jaxopt_lab.equivalences) against the installed "
        "libraries and print it, grouped by optimizer; exit 1 if a row leaves its bound.",
    )
    parser.add_argument("--steps", type=integer(1, 10**6), default=1000,
                        help="steps per row (default 1000)")  # fmt: skip
    parser.add_argument(
        "--optimizer", nargs="+", metavar="NAME", help="only these lab optimizers"
    )
    parser.add_argument(
        "--library", nargs="+", metavar="NAME", help="only these libraries (tutorial, optax, "
        "torch, keras)"
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
        results = equivalences.run_table(rows, args.steps, on_result=report)
    print(equivalences.render_markdown(results, args.steps))
    print("\nIn short:\n" + "\n".join(equivalences.in_short(rows)))
    if missing:
        print(
            f"\nNot checked (not installed): {', '.join(missing)}; "
            "pip install 'jaxopt-lab[crosscheck]'"
        )
    print(f"\n{len(results) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


# --------------------------------------------------------------------------- the 2-D lab

TUTORIAL_FOUR = ["sgd", "momentum", "adagrad", "adam"]


def add_problem_arguments(parser, steps_default: int) -> None:
    parser.add_argument("--problem", default="bowl", help="a name in PROBLEMS (default: bowl)")
    parser.add_argument("--steps", type=integer(0, 10**6), default=steps_default,
                        help="updates per run")  # fmt: skip
    parser.add_argument("--start", type=start_point, help="X,Y (default: the problem's)")


def problem_from(parser, name: str):
    if name not in PROBLEMS:
        parser.error(f"unknown problem {name!r}; valid problems: {', '.join(PROBLEMS)}")
    return PROBLEMS[name]


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
    out = writable_out(args)
    for record in write_trajectories(out, specs, problem, args.start, args.steps).values():
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
    out = writable_out(args)
    # In the run's dtype (float32) once, as sweep() would per optimizer: 4 bytes a point.
    grid = {name: values.astype("float32", copy=False) for name, values in grid.items()}
    args.param = None  # drop the float64 originals
    summaries = write_sweeps(out, specs, grid, problem, args.start, args.steps, args.chunk_size)
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


# --------------------------------------------------------------------------- the MNIST lab


def add_data_arguments(parser) -> None:
    parser.add_argument(
        "--data-dir", default=None,
        help="folder with the four MNIST IDX files, gzipped or not (default: "
        "$JAXOPT_LAB_MNIST_DIR, else TensorFlow Datasets)",
    )  # fmt: skip
    parser.add_argument("--source", choices=("auto", "idx", "tfds"), default="auto",
                        help="where MNIST comes from")  # fmt: skip
    # For tests and quick looks: a smaller network (the first size must be 784).
    parser.add_argument("--sizes", type=sizes_list, default=None, help=argparse.SUPPRESS)


def sizes_list(text: str) -> tuple[int, ...]:
    sizes = tuple(integer(1, 100_000)(item) for item in text.split(","))
    if len(sizes) < 2 or sizes[0] != 784:
        raise argparse.ArgumentTypeError(f"expected 784,...,classes, got {text!r}")
    return sizes


def add_training_arguments(parser, iterations: int) -> None:
    parser.add_argument("--iterations", type=integer(1, 10**7), default=iterations)
    parser.add_argument("--batch-size", type=integer(1, 60_000), default=128,
                        help="examples per iteration, drawn with replacement")  # fmt: skip


def data_loader(args):
    """A function loading MNIST as asked; its errors become one-line parser errors."""

    def load():
        try:
            return load_mnist(args.source, args.data_dir)
        except CorruptIdxFileError as error:
            args.parser.error(str(error))
        except MnistNotFoundError as error:
            if args.command == "demo":
                raise
            args.parser.error(str(error))

    return load


def run_config(args, specs):
    extra = {"sizes": args.sizes} if args.sizes else {}
    return RunConfig(specs, args.iterations, args.batch_size, args.seed, **extra)


def add_mnist_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "mnist",
        help="the tutorial's MNIST comparison: every optimizer trained side by side, one program",
    )
    add_optimizer_argument(parser, TUTORIAL_FOUR,
                           "optimizers and settings (default: the tutorial's four, its defaults)")
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
    out = writable_out(args)
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
        "demo", help="both of the tutorial's experiments end to end, with a Markdown report",
    )  # fmt: skip
    add_out_argument(parser)
    add_training_arguments(parser, 2000)
    parser.add_argument("--seed", type=SEED, default=0, help="random seed (weights, batches)")
    add_data_arguments(parser)
    parser.set_defaults(run=run_demo, parser=parser)


def run_demo(args) -> int:
    config = demo.tutorial_config(args.iterations, args.batch_size, args.seed, args.sizes)
    writable_out(args)
    log = TutorialLog(args.iterations)

    def on_chunk(chunk) -> None:
        args.ctrl_c.deferrable = True
        log(chunk)

    try:
        result = demo.run_demo(args.out, config, data_loader(args), on_chunk, args.ctrl_c.stop)
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


# --------------------------------------------------------------------------- bench


def add_bench_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench", help="run the benchmark suite (" + ", ".join(suite.BENCHMARKS) + ")",
    )  # fmt: skip
    suite.add_arguments(parser)
    parser.set_defaults(run=run_bench, parser=parser)


def run_bench(args) -> int:
    return suite.run_from_args(args)


# --------------------------------------------------------------------------- port


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
    parser.add_argument("optimizer", nargs="?", help='e.g. "AdamW(lr=3e-4, weight_decay=0.1)"; '
                        'param groups: "AdamW([{\'lr\': 1e-3}, {\'weight_decay\': 0.0}], '
                        'lr=3e-4)"')
    parser.add_argument("--scheduler", help='e.g. "OneCycleLR(max_lr=1e-3, total_steps=1000)"')
    parser.add_argument("--clip-grad-norm", type=float, help="torch clip_grad_norm_ max_norm")
    parser.add_argument("--clip-norm-type", type=float, default=2.0, help="its norm_type")
    parser.add_argument("--clip-grad-value", type=float, help="torch clip_grad_value_")
    parser.add_argument("--scheduler-every", type=integer(1, 10**9), default=1,
                        help="optimizer steps per scheduler.step() (default 1)")
    parser.add_argument("--from", dest="library", choices=("torch", "keras"), default="torch")
    parser.add_argument("--steps", type=integer(1, 10**6), default=1000,
                        help="steps to compare (default 1000)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--seed", type=SEED, default=0, help="random seed of params and gradients")
    parser.add_argument("--matrix", action="store_true",
                        help="run every case of the port's matrix in float32 and float64")
    parser.add_argument("--conventions", action="store_true",
                        help="measure each naive-port convention against the library")
    parser.set_defaults(run=run_port, parser=parser)


def run_port(args) -> int:
    from jaxopt_lab.port import PortError
    from jaxopt_lab.port.command import port_run

    if args.matrix or args.conventions:
        return _run_port_tables(args)
    if args.optimizer is None:
        print("jaxopt-lab port: error: give an optimizer call, --matrix or --conventions",
              file=sys.stderr)
        return 2
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
        )
    except (ValueError, PortError, ImportError) as error:
        print(f"jaxopt-lab port: error: {error}", file=sys.stderr)
        return 2
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


# --------------------------------------------------------------------------- main

SUBCOMMAND_PARSERS = [
    add_check_parser,
    add_trajectories_parser,
    add_sweep_parser,
    add_mnist_parser,
    add_mnist_sweep_parser,
    add_demo_parser,
    add_bench_parser,
    add_port_parser,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxopt-lab",
        description="jaxopt_lab: a laboratory for first-order optimizers in JAX.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add_parser in SUBCOMMAND_PARSERS:
        add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    with CtrlC(args.command) as args.ctrl_c:
        return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
