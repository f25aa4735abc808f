"""The ``jaxopt-lab`` command: parses arguments, calls the library, writes results.

Each subcommand is a pair of functions: ``add_<name>_parser(subparsers)`` that
declares its arguments, and ``run_<name>(args) -> int`` that runs it and
returns the exit status. ``main`` wires them together.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# --------------------------------------------------------------------------- check


def add_check_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "check",
        help="cross-check every lab optimizer against the book, optax, torch.optim and Keras",
        description="Run the equivalence table (jaxopt_lab.equivalences) against the installed "
        "libraries and print it, grouped by optimizer; exit 1 if a row leaves its bound.",
    )
    parser.add_argument("--steps", type=int, default=1000, help="steps per row (default 1000)")
    parser.add_argument(
        "--optimizer", nargs="+", metavar="NAME", help="only these lab optimizers"
    )
    parser.add_argument(
        "--library", nargs="+", metavar="NAME", help="only these libraries (seed, optax, torch, "
        "keras)"
    )
    parser.set_defaults(run=run_check)


def run_check(args) -> int:
    from jaxopt_lab import equivalences

    if args.steps < 1:
        print(f"jaxopt-lab check: error: --steps must be >= 1, got {args.steps}", file=sys.stderr)
        return 2
    try:
        rows = equivalences.select(
            equivalences.EQUIVALENCES, optimizers_wanted=args.optimizer, libraries=args.library
        )
    except ValueError as error:
        print(f"jaxopt-lab check: error: {error}", file=sys.stderr)
        return 2
    missing = sorted(set(equivalences.LIBRARIES) - set(equivalences.available_libraries()))
    print(
        f"Each lab optimizer against the book, optax, torch.optim and Keras: {args.steps} steps "
        "of fixed N(0, 1) gradients from the same N(0, 1) params, in float32 and float64.\n"
        f"Bound where the formulas agree: {equivalences.FLAT_ULPS:g} ulps of each leaf's scale "
        "(max|a-b| / max|b| per leaf, in units of the dtype's eps) at every step, plus a "
        "documented growth per step for rows that round differently by design.\n"
    )
    failures, total = [], 2 * sum(1 for row in rows if row.library not in missing and row.other)
    done = [0]

    def report(result):
        done[0] += 1
        if sys.stderr.isatty():
            print(f"\rchecked {done[0]}/{total}: {result.row.name}\x1b[K", end="",
                  file=sys.stderr, flush=True)
        if not result.passed:
            failures.append(result)
            print(f"FAIL {result.row.name} ({result.dtype}): {result.failure}")

    results = equivalences.run_table(rows, args.steps, on_result=report)
    if sys.stderr.isatty():
        print("\r\x1b[K", end="", file=sys.stderr, flush=True)
    print(equivalences.render_markdown(results, args.steps))
    print("\nIn short:\n" + "\n".join(equivalences.in_short(rows)))
    if missing:
        print(
            f"\nNot checked (not installed): {', '.join(missing)}; "
            "pip install 'jaxopt-lab[crosscheck]'"
        )
    print(f"\n{len(results) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


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


# --------------------------------------------------------------------------- mnist
# The MNIST subcommands (mnist, mnist-sweep, demo) and their helpers.

SEED_OPTIMIZERS = "sgd,momentum,adagrad,adam"
"""The seed's comparison: SGD 0.01, Momentum 0.01/0.9, AdaGrad 0.01, Adam 0.001 (lab defaults)."""


def _optimizer_specs(text: str) -> dict:
    """``"sgd,adam:0.01"`` -> ``{"sgd": sgd(), "adam:0.01": adam(0.01)}`` (name[:learning_rate])."""
    from jaxopt_lab.optimizers import OPTIMIZERS

    optimizers = {}
    for spec in (item.strip() for item in text.split(",")):
        name, _, learning_rate = spec.partition(":")
        if name not in OPTIMIZERS:
            raise argparse.ArgumentTypeError(
                f"unknown optimizer {name!r} in {text!r}; choose from {', '.join(OPTIMIZERS)}"
            )
        if spec in optimizers:
            raise argparse.ArgumentTypeError(f"optimizer {spec!r} is listed twice")
        try:
            optimizers[spec] = (
                OPTIMIZERS[name](float(learning_rate)) if learning_rate else OPTIMIZERS[name]()
            )
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"{spec!r}: {error}") from error
    return optimizers


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(item) for item in text.split(","))
    except ValueError:
        message = f"expected comma-separated integers, got {text!r}"
        raise argparse.ArgumentTypeError(message) from None


def _float_list(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(item) for item in text.split(","))
    except ValueError:
        message = f"expected comma-separated numbers, got {text!r}"
        raise argparse.ArgumentTypeError(message) from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _add_data_arguments(parser) -> None:
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder with the four MNIST IDX files, gzipped or not (default: "
        "$JAXOPT_LAB_MNIST_DIR, else TensorFlow Datasets)",
    )
    parser.add_argument(
        "--source", choices=("auto", "idx", "tfds"), default="auto", help="where MNIST comes from"
    )
    # For tests and quick looks: a smaller network (the first size must be 784).
    parser.add_argument("--sizes", type=_int_list, default=None, help=argparse.SUPPRESS)


def _load_data(args, command: str):
    from jaxopt_lab.data import CorruptIdxFileError, MnistNotFoundError, load_mnist

    try:
        return load_mnist(args.source, args.data_dir)
    except (MnistNotFoundError, CorruptIdxFileError) as error:
        print(f"jaxopt-lab {command}: error: {error}", file=sys.stderr)
        return None


class _ProgressBar:
    """A one-line progress bar with ETA, redrawn in place on a terminal."""

    def __init__(self, total: int, stream, width: int = 30):
        self.total, self.stream, self.width = total, stream, width
        self.start = time.perf_counter()
        self.first = None

    def draw(self, done: int) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = (now, done)
        filled = int(self.width * done / self.total)
        bar = "#" * filled + "-" * (self.width - filled)
        first_time, first_done = self.first
        rate = (done - first_done) / (now - first_time) if now > first_time else 0.0
        eta = _clock((self.total - done) / rate) if rate > 0 else "--:--"
        self.stream.write(
            f"\r[{bar}] {done}/{self.total} {100 * done / self.total:3.0f}% "
            f"{_clock(now - self.start)} elapsed, ETA {eta} "
        )
        self.stream.flush()

    def clear(self) -> None:
        self.stream.write("\r" + " " * (self.width + 60) + "\r")
        self.stream.flush()


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes:d}:{seconds:02d}"


def _json_number(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _write_mnist_outputs(out: Path, names, losses, test_accuracy, diverged, info: dict) -> dict:
    """losses.json (every loss; NaN/inf as null) and loss_curves.png; returns the JSON."""
    from jaxopt_lab.plots import display_name, plot_mnist_losses

    window = min(100, losses.shape[1])
    accuracies = [None] * len(names) if test_accuracy is None else list(test_accuracy)
    summary = {
        **info,
        "optimizers": list(names),
        "display_names": [display_name(name) for name in names],
        "iterations_done": int(losses.shape[1]),
        "final_mean_loss": {
            name: _json_number(row[-window:].mean()) if row.size else None
            for name, row in zip(names, losses, strict=True)
        },
        "test_accuracy": {
            name: None if accuracy is None else _json_number(accuracy)
            for name, accuracy in zip(names, accuracies, strict=True)
        },
        "diverged": diverged,
        "losses": {
            name: [_json_number(value) for value in row]
            for name, row in zip(names, losses, strict=True)
        },
    }
    (out / "losses.json").write_text(json.dumps(summary, indent=1) + "\n")
    figure = plot_mnist_losses(dict(zip(names, losses, strict=True)))
    figure.savefig(out / "loss_curves.png", dpi=120)
    return summary


def _mnist_comparison(args, optimizers: dict, data, out: Path, command: str):
    """Run (or resume) the comparison with log, progress bar and checkpoints; write outputs.

    Returns ``(exit_status, summary_or_None)``.
    """
    from jaxopt_lab import checkpoint
    from jaxopt_lab.mnist import DEFAULT_SIZES, compare, first_nonfinite, initial_carry
    from jaxopt_lab.plots import display_name

    names = list(optimizers)
    sizes = tuple(args.sizes) if args.sizes else DEFAULT_SIZES
    log_every = 100
    checkpoint_every = getattr(args, "checkpoint_every", None)
    chunk_size = math.gcd(log_every, checkpoint_every) if checkpoint_every else log_every
    config = {
        "optimizers": names,
        "iterations": args.iterations,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "sizes": list(sizes),
        "chunk_size": chunk_size,
    }
    checkpoint_path, config_path = out / "checkpoint.npz", out / "checkpoint.json"
    start = None
    if getattr(args, "resume", False):
        if checkpoint_path.exists() and config_path.exists():
            saved = json.loads(config_path.read_text())
            if saved != config:
                differing = sorted(key for key in config if saved.get(key) != config[key])
                print(
                    f"jaxopt-lab {command}: error: {checkpoint_path} was saved with other "
                    f"settings ({', '.join(differing)}: {[saved.get(k) for k in differing]}); "
                    "rerun with the same arguments, or without --resume",
                    file=sys.stderr,
                )
                return 2, None
            like = initial_carry(optimizers, args.iterations, args.seed, sizes=sizes)
            start = checkpoint.load(checkpoint_path, like=like)
            print(
                f"resuming from iteration {int(start.iteration)} ({checkpoint_path})",
                file=sys.stderr,
            )
        else:
            print(f"no checkpoint in {out}; starting from iteration 0", file=sys.stderr)
    if checkpoint_every:
        config_path.write_text(json.dumps(config) + "\n")

    progress = _ProgressBar(args.iterations, sys.stderr) if sys.stderr.isatty() else None
    state = {"done": 0 if start is None else int(start.iteration), "carry": start, "warned": set()}

    def on_chunk(carry) -> None:
        done = int(carry.iteration)
        if checkpoint_every and (done % checkpoint_every == 0 or done == args.iterations):
            checkpoint.save(checkpoint_path, carry)
        if progress:
            progress.clear()
        for iteration in range(state["done"], done):
            if iteration % log_every == 0:  # the seed's log
                print("===========" + "iteration:" + str(iteration) + "===========")
                for name, row in zip(names, carry.losses, strict=True):
                    print(display_name(name) + ":" + str(row[iteration]))
        for name, iteration in first_nonfinite(carry.losses[:, :done], names).items():
            if name not in state["warned"]:
                state["warned"].add(name)
                value = carry.losses[names.index(name), iteration]
                print(
                    f"warning: {display_name(name)} loss became {value} at iteration {iteration}; "
                    "its curve stops there, the other optimizers go on",
                    file=sys.stderr,
                )
        sys.stdout.flush()
        if progress:
            progress.draw(done)
        state["done"], state["carry"] = done, carry
        if getattr(args, "pause_after_chunk", 0):
            time.sleep(args.pause_after_chunk)

    info = {key: config[key] for key in ("iterations", "batch_size", "seed", "sizes")}
    try:
        result = compare(
            optimizers,
            data,
            args.iterations,
            args.batch_size,
            args.seed,
            sizes=sizes,
            chunk_size=chunk_size,
            start=start,
            on_chunk=on_chunk,
        )
    except KeyboardInterrupt:
        if progress:
            progress.clear()
        if state["carry"] is not None:
            done = state["done"]
            losses = np.asarray(state["carry"].losses)[:, :done]
            _write_mnist_outputs(out, names, losses, None, first_nonfinite(losses, names), info)
            print(f"interrupted at iteration {done}; wrote what there is to {out}", file=sys.stderr)
        return 130, None
    if progress:
        progress.clear()
    info.update(compile_seconds=result.compile_seconds, run_seconds=result.run_seconds)
    summary = _write_mnist_outputs(
        out, names, result.losses, result.test_accuracy, result.diverged, info
    )
    print(
        f"test accuracy after {args.iterations} iterations (and mean train loss of the last 100):"
    )
    for name in names:
        accuracy = summary["test_accuracy"][name]
        final = summary["final_mean_loss"][name]
        shown = "diverged" if accuracy is None else f"{accuracy:.4f}"
        loss_shown = "n/a" if final is None else f"{final:.4f}"
        print(f"  {display_name(name):<12} {shown:>8}   ({loss_shown})")
    print(
        f"compiled in {result.compile_seconds:.1f} s, ran in {result.run_seconds:.1f} s; "
        f"wrote {out / 'losses.json'} and {out / 'loss_curves.png'}"
    )
    return 0, summary


def add_mnist_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "mnist",
        help="the seed's MNIST comparison: every optimizer trained side by side, one program",
    )
    parser.add_argument(
        "--optimizers",
        type=_optimizer_specs,
        default=SEED_OPTIMIZERS,
        help="comma-separated name[:learning_rate] (default: %(default)s, the seed's defaults)",
    )
    parser.add_argument("--iterations", type=_positive_int, default=2000)
    parser.add_argument("--batch-size", type=_positive_int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--checkpoint-every",
        type=_positive_int,
        default=None,
        metavar="N",
        help="save a checkpoint in --out every N iterations",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue from the checkpoint in --out"
    )
    # For the kill-and-resume test: sleep after each chunk, so a run can be killed mid-way.
    parser.add_argument("--pause-after-chunk", type=float, default=0.0, help=argparse.SUPPRESS)
    _add_data_arguments(parser)
    parser.set_defaults(run=run_mnist)


def run_mnist(args) -> int:
    optimizers = args.optimizers
    if isinstance(optimizers, str):  # argparse does not convert a default string
        optimizers = _optimizer_specs(optimizers)
    data = _load_data(args, "mnist")
    if data is None:
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    status, _ = _mnist_comparison(args, optimizers, data, args.out, "mnist")
    return status


def add_mnist_sweep_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "mnist-sweep",
        help="train learning rates x seeds MNIST networks at once; final loss vs learning rate",
    )
    parser.add_argument("--optimizer", default="adam", help="optimizer name (default: adam)")
    parser.add_argument(
        "--learning-rates",
        type=_float_list,
        default=(1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1),
        help="comma-separated learning rates (default: 1e-4 ... 1e-1)",
    )
    parser.add_argument("--seeds", type=_int_list, default=(0, 1), help="comma-separated seeds")
    parser.add_argument("--iterations", type=_positive_int, default=500)
    parser.add_argument("--batch-size", type=_positive_int, default=128)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    _add_data_arguments(parser)
    parser.set_defaults(run=run_mnist_sweep)


def run_mnist_sweep(args) -> int:
    from jaxopt_lab.mnist import DEFAULT_SIZES, sweep
    from jaxopt_lab.optimizers import OPTIMIZERS
    from jaxopt_lab.plots import display_name, plot_mnist_sweep

    if args.optimizer not in OPTIMIZERS:
        print(
            f"jaxopt-lab mnist-sweep: error: --optimizer {args.optimizer!r} is not one of "
            f"{', '.join(OPTIMIZERS)}",
            file=sys.stderr,
        )
        return 2
    data = _load_data(args, "mnist-sweep")
    if data is None:
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    sizes = tuple(args.sizes) if args.sizes else DEFAULT_SIZES
    try:
        result = sweep(
            OPTIMIZERS[args.optimizer],
            args.learning_rates,
            args.seeds,
            data,
            args.iterations,
            args.batch_size,
            sizes=sizes,
        )
    except ValueError as error:
        print(f"jaxopt-lab mnist-sweep: error: {error}", file=sys.stderr)
        return 2
    networks = result.final_loss.size
    summary = {
        "optimizer": args.optimizer,
        "iterations": args.iterations,
        "batch_size": args.batch_size,
        "sizes": list(sizes),
        "learning_rates": result.learning_rates.tolist(),
        "seeds": result.seeds.tolist(),
        "final_loss": [[_json_number(v) for v in row] for row in result.final_loss],
        "test_accuracy": [[_json_number(v) for v in row] for row in result.test_accuracy],
        "compile_seconds": result.compile_seconds,
        "run_seconds": result.run_seconds,
        "networks_per_second": networks / result.run_seconds,
        "device_count": result.device_count,
    }
    (args.out / "sweep.json").write_text(json.dumps(summary, indent=1) + "\n")
    figure = plot_mnist_sweep(
        result.learning_rates,
        result.final_loss,
        label=args.optimizer,
        title=f"{display_name(args.optimizer)} on MNIST, {args.iterations} iterations",
    )
    figure.savefig(args.out / "sweep.png", dpi=120)
    print("| learning rate | final train loss (mean over seeds) | test accuracy (mean) |")
    print("|---:|---:|---:|")
    for index, learning_rate in enumerate(result.learning_rates):
        print(
            f"| {learning_rate:.3g} | {np.mean(result.final_loss[index]):.4f} "
            f"| {np.mean(result.test_accuracy[index]):.4f} |"
        )
    print(
        f"{networks} networks on {result.device_count} device(s): compiled in "
        f"{result.compile_seconds:.1f} s, trained in {result.run_seconds:.1f} s "
        f"({networks / result.run_seconds:.2f} networks/s); wrote {args.out / 'sweep.json'} "
        f"and {args.out / 'sweep.png'}"
    )
    return 0


# --------------------------------------------------------------------------- demo


def _demo_two_d(out_dir: Path) -> list[str]:
    """The seed's first experiment, plus a sweep: figures under ``out_dir``, report lines.

    30 steps on the seed's bowl from (-7, 2) with the seed's four settings (one
    panel each), then 1,000 learning rates of each of them in one compiled sweep.
    """
    import numpy as np

    from jaxopt_lab.optimizers import OPTIMIZERS
    from jaxopt_lab.plots import display_name, plot_sweep, plot_trajectories
    from jaxopt_lab.problems import PROBLEMS
    from jaxopt_lab.sweep import sweep, trajectory

    problem, steps = PROBLEMS["seed_bowl"], 30
    names = SEED_OPTIMIZERS.split(",")
    two_d = out_dir / "two_d"
    positions, rows = {}, []
    for name in names:
        learning_rate = TRAJECTORY_LEARNING_RATES[name]
        path = np.asarray(trajectory(OPTIMIZERS[name](learning_rate), problem, None, steps))
        positions[f"{display_name(name)} (lr={learning_rate:g})"] = path
        rows.append(
            f"| {display_name(name)} | {learning_rate:g} | ({path[-1, 0]:.4g}, {path[-1, 1]:.4g}) "
            f"| {float(problem.function(path[-1])):.3g} |"
        )
    plot_trajectories(positions, problem, path=two_d / "trajectories.png")

    grid = {"learning_rate": np.geomspace(1e-3, 10.0, 1000)}
    results = {display_name(name): sweep(OPTIMIZERS[name], grid, problem, None, steps)
               for name in names}
    plot_sweep(results, path=two_d / "sweep.png")
    best = []
    for label, result in results.items():
        point, loss = result.best()
        best.append(f"| {label} | {point['learning_rate']:.3g} | {loss:.3g} | "
                    f"{int(np.sum(result.diverged))} |")
    return [
        f"## 2-D: {steps} steps on f(x, y) = x²/20 + y² from (-7, 2)",
        "",
        "![trajectories](two_d/trajectories.png)",
        "",
        "| optimizer | learning rate | final position | f(final) |",
        "|---|---:|---|---:|",
        *rows,
        "",
        "The same problem swept over 1,000 learning rates (1e-3 to 10, log-spaced) per optimizer,",
        "each sweep one compiled, vmapped program:",
        "",
        "![final loss against learning rate](two_d/sweep.png)",
        "",
        "| optimizer | best learning rate | f(final) | diverged runs |",
        "|---|---:|---:|---:|",
        *best,
        "",
    ]


def add_demo_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="both of the seed's experiments end to end, with a Markdown report",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--iterations", type=_positive_int, default=2000)
    parser.add_argument("--batch-size", type=_positive_int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    _add_data_arguments(parser)
    parser.set_defaults(run=run_demo)


def run_demo(args) -> int:
    from jaxopt_lab.plots import display_name

    args.out.mkdir(parents=True, exist_ok=True)
    lines = ["# jaxopt_lab demo: the seed's two experiments", ""]
    lines += _demo_two_d(args.out)
    lines += ["## MNIST: SGD, Momentum, AdaGrad and Adam side by side", ""]
    status = 0
    data = _load_data(args, "demo")
    if data is None:
        from jaxopt_lab.data import HOW_TO_GET_MNIST

        lines += ["MNIST was not found, so this part did not run. " + HOW_TO_GET_MNIST, ""]
        status = 2
    else:
        mnist_out = args.out / "mnist"
        mnist_out.mkdir(exist_ok=True)
        optimizers = _optimizer_specs(SEED_OPTIMIZERS)
        status, summary = _mnist_comparison(args, optimizers, data, mnist_out, "demo")
        if summary is not None:
            lines += [
                f"{args.iterations} iterations, batches of {args.batch_size} drawn with "
                f"replacement (seed {args.seed}), network {'-'.join(map(str, summary['sizes']))}, "
                "every optimizer from the same initial weights on the same batches, the seed's "
                "hyperparameters. All four were trained in one compiled program "
                f"(compiled in {summary['compile_seconds']:.1f} s, "
                f"ran in {summary['run_seconds']:.1f} s).",
                "",
                "![MNIST train loss](mnist/loss_curves.png)",
                "",
                "| optimizer | mean train loss, last 100 iterations | test accuracy |",
                "|---|---:|---:|",
            ]
            for name in summary["optimizers"]:
                final = summary["final_mean_loss"][name]
                accuracy = summary["test_accuracy"][name]
                lines.append(
                    f"| {display_name(name)} | {'n/a' if final is None else f'{final:.4f}'} | "
                    f"{'diverged' if accuracy is None else f'{accuracy:.4f}'} |"
                )
            lines += [
                "",
                "The seed reports SGD about 0.2, Momentum about 0.06-0.1, AdaGrad and Adam "
                "about 0.03. Every loss: [mnist/losses.json](mnist/losses.json).",
                "",
            ]
    report = args.out / "report.md"
    report.write_text("\n".join(lines))
    print(f"wrote {report}")
    return status


# --------------------------------------------------------------------------- bench


def _import_benchmarks_suite():
    """``benchmarks.suite``, from the path or else from the current directory.

    The ``benchmarks`` package lives beside ``jaxopt_lab`` in the repository and
    is not installed with it; a console script does not put the current
    directory on ``sys.path``, so run ``jaxopt-lab bench`` from the repository
    root (or with ``PYTHONPATH`` set to it).
    """
    import importlib
    from pathlib import Path

    try:
        return importlib.import_module("benchmarks.suite")
    except ImportError:
        if not (Path.cwd() / "benchmarks" / "suite.py").exists():
            raise
        sys.path.insert(0, str(Path.cwd()))
        return importlib.import_module("benchmarks.suite")


def add_bench_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="run the benchmark suite (update, sweep, train, checkpoint) from the repository root",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run small enough for CI")
    parser.add_argument(
        "--out",
        help="directory for the JSON files and figure (default: benchmarks/results/<device>/ "
        "for a full run, nothing written for --quick)",
    )
    parser.add_argument("--only", help="comma-separated benchmarks to run (default: all present)")
    parser.set_defaults(run=run_bench)


def run_bench(args) -> int:
    try:
        suite = _import_benchmarks_suite()
    except ImportError as error:
        print(
            f"jaxopt-lab bench: cannot import the benchmarks package ({error}); it is not "
            "installed with jaxopt_lab: run this from the repository root",
            file=sys.stderr,
        )
        return 2
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
    parser.add_argument("--scheduler-every", type=int, default=1,
                        help="optimizer steps per scheduler.step() (default 1)")
    parser.add_argument("--from", dest="library", choices=("torch", "keras"), default="torch")
    parser.add_argument("--steps", type=int, default=1000, help="steps to compare (default 1000)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--seed", type=int, default=0)
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
    from jaxopt_lab.port.command import markdown_table

    failures = 0
    if args.matrix:
        rows = [["library", "case", "float32: worst ulps of the leaf's scale (largest per step)",
                 "float64: worst relative error", "verdict"]]
        cells: dict = {}
        for case, run in matrix.run_matrix(steps=args.steps):
            result = run.comparison
            per_step = result.max_scaled_ulps / np.arange(1, result.steps + 1)
            failures += run.failure is not None
            row = cells.setdefault(case, [case.library, f"`{case.label}`", "", "", "agree"])
            if result.dtype == np.float32:
                row[2] = f"{result.max_scaled_ulps.max():.2f} ({per_step.max():.3f})"
            else:
                row[3] = f"{result.max_rel_error.max():.1e}"
            if run.failure is not None:
                row[4] = f"FAIL ({result.dtype.name})"
        rows += cells.values()
        print(markdown_table(rows))
        print(f"\n{len(rows) - 1} cases, {failures} failures ({args.steps} steps)\n")
    if args.conventions:
        rows = [["convention", "naive port", "naive: float32 ulps", "naive: float64 rel.",
                 "port: float32 ulps", "port: float64 rel."]]
        for measured in conventions.measure_all(steps=args.steps):
            rows.append([measured.convention.title, measured.convention.naive_port,
                         f"{measured.naive_ulps:.1f}", f"{measured.naive_relative:.1e}",
                         f"{measured.port_ulps:.1f}", f"{measured.port_relative:.1e}"])
        print(markdown_table(rows))
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
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
