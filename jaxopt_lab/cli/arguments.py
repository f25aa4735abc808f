"""The command line's argument types and shared arguments: each turns text into a value or
ends in ``parser.error`` (one line naming the argument, exit 2) before anything runs."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from jaxopt_lab.data import ENVIRONMENT_VARIABLE as MNIST_ENVIRONMENT_VARIABLE
from jaxopt_lab.data import CorruptIdxFileError, MnistNotFoundError, load_mnist
from jaxopt_lab.files import FolderBusyError, FolderLock, check_writable_folder
from jaxopt_lab.grid import grid_axes, parse_grid_axis, with_settings
from jaxopt_lab.optimizer_spec import parse_optimizer
from jaxopt_lab.problems import PROBLEMS
from jaxopt_lab.runs.training import RunConfig

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


def sizes_list(text: str) -> tuple[int, ...]:
    sizes = tuple(integer(1, 100_000)(item) for item in text.split(","))
    if len(sizes) < 2 or sizes[0] != 784:
        raise argparse.ArgumentTypeError(f"expected 784,...,classes, got {text!r}")
    return sizes


SEED = integer(0, 2**32 - 1)
MAX_GRID_POINTS = 10**9


def learning_rate_range(text: str) -> tuple[float, float, int]:
    """``LOW:HIGH:COUNT``: COUNT log-spaced learning rates from LOW to HIGH."""
    parts = text.split(":")
    try:
        low, high, count = float(parts[0]), float(parts[1]), int(parts[2])
        valid = len(parts) == 3 and 0 < low < high and math.isfinite(high) and 2 <= count
    except (ValueError, IndexError):
        valid = False
    if not valid or count > 100_000:
        raise argparse.ArgumentTypeError(
            f"expected LOW:HIGH:COUNT with 0 < LOW < HIGH and 2 <= COUNT <= 100000, got {text!r}"
        )
    return low, high, count


# --------------------------------------------------------------------------- shared arguments

TUTORIAL_FOUR = ["sgd", "momentum", "adagrad", "adam"]


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


@contextlib.contextmanager
def locked_out(args) -> Iterator[Path]:
    """``--out`` made and proven writable, held under its folder lock (``.lock``, never
    followed if a symlink) while the block writes into it: two commands never mix
    their files in one folder."""
    out = writable_out(args)
    lock = FolderLock(out)
    try:
        lock.__enter__()
    except FolderBusyError as error:
        args.parser.error(f"--out: {error}")
    try:
        yield out
    finally:
        lock.__exit__(None, None, None)


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


def add_problem_arguments(parser, steps_default: int) -> None:
    parser.add_argument("--problem", default="bowl", help="a name in PROBLEMS (default: bowl)")
    parser.add_argument("--steps", type=integer(0, 10**6), default=steps_default,
                        help="updates per run")  # fmt: skip
    parser.add_argument("--start", type=start_point, help="X,Y (default: the problem's)")


def problem_from(parser, name: str):
    if name not in PROBLEMS:
        parser.error(f"unknown problem {name!r}; valid problems: {', '.join(PROBLEMS)}")
    return PROBLEMS[name]


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


def add_workload_data_argument(parser) -> None:
    """``--data-dir`` for a command whose workloads load MNIST themselves (tune, leaderboard)."""
    parser.add_argument(
        "--data-dir", default=None,
        help="folder with the four MNIST IDX files, for the MNIST workloads (default: "
        "$JAXOPT_LAB_MNIST_DIR, else TensorFlow Datasets)",
    )  # fmt: skip


def use_workload_data(args) -> None:
    """Point the MNIST workloads at ``--data-dir`` (through ``$JAXOPT_LAB_MNIST_DIR``, which
    they read); a missing folder is a parser error naming it."""
    if args.data_dir is None:
        return
    if not Path(args.data_dir).is_dir():
        args.parser.error(f"--data-dir: {args.data_dir!r} is not a folder")
    os.environ[MNIST_ENVIRONMENT_VARIABLE] = str(Path(args.data_dir).resolve())


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
