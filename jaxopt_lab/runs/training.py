"""A training run of the MNIST lab that owns its folder::

    config = RunConfig(parse_optimizers(["sgd", "adam:0.003"]), iterations=2000, seed=0)
    with TrainingRun("runs/x", config, checkpoint_every=100, resume=True) as run:
        data = load_mnist(...)                 # after the folder is known to be usable
        result = run.train(data, on_chunk=...)

The folder holds ``checkpoint.npz`` (the carry *and* the run's config and a
fingerprint of its data, in one file), ``losses.json`` (every loss, the
accuracies, the config; strict JSON: a diverged loss is ``null``) and
``loss_curves.png``. Entering a :class:`TrainingRun`:

* creates the folder and proves it writable (a file, or a read-only folder,
  is refused before any training);
* takes the folder's lock: a second process is refused while the first runs
  (the kernel drops the lock when the holder dies, even by SIGKILL);
* reads an existing checkpoint: without ``resume`` it is refused (it would be
  overwritten); with ``resume`` it must have been saved with the same config,
  else the run is refused naming the setting that differs. Only the
  checkpoint interval may change: results are the same bit for bit for any
  interval. A corrupt checkpoint is refused with the reason.

:meth:`TrainingRun.train` then checks the data against the checkpoint's
fingerprint, trains (:func:`jaxopt_lab.mnist.compare`), saves a checkpoint
every ``checkpoint_every`` iterations and writes the outputs, every file
atomically (a full disk or a crash leaves the previous file whole). Asked to
stop (a ``threading.Event``, which the command line sets on Ctrl-C), it stops
at the next chunk boundary, writes what there is and returns an interrupted
result. Nothing here prints or handles signals: progress goes to ``on_chunk``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab import checkpoint, files
from jaxopt_lab.data import MnistData
from jaxopt_lab.mnist import (
    DEFAULT_SIZES,
    CompareCarry,
    check_seed,
    compare,
    first_nonfinite,
    initial_carry,
)
from jaxopt_lab.optimizer_spec import OptimizerSpec
from jaxopt_lab.report.figures import display_name, plot_mnist_losses
from jaxopt_lab.runs.held_folder import HeldFolder

CHECKPOINT, LOSSES, FIGURE = "checkpoint.npz", "losses.json", "loss_curves.png"
LOG_EVERY = 100
"""The tutorial logs every 100 iterations; chunks end there (and at checkpoints)."""
RUN_FORMAT = 1


class _Stopped(Exception):
    """Raised between chunks when the caller asked the run to stop."""


class RunError(RuntimeError):
    """The run folder cannot be used as asked; the message says why and what to do."""


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run's numbers (the checkpoint interval does not)."""

    optimizers: tuple[OptimizerSpec, ...]
    iterations: int = 2000
    batch_size: int = 128
    seed: int = 0
    sizes: tuple[int, ...] = DEFAULT_SIZES
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if not self.optimizers:
            raise ValueError("optimizers: at least one optimizer is needed")
        for name in ("iterations", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        check_seed(self.seed)
        object.__setattr__(self, "sizes", tuple(int(size) for size in self.sizes))

    @property
    def labels(self) -> list[str]:
        return [spec.label for spec in self.optimizers]

    def to_dict(self) -> dict[str, Any]:
        record = dataclasses.asdict(self)
        record["optimizers"] = [spec.to_dict() for spec in self.optimizers]
        record["sizes"] = list(self.sizes)
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> RunConfig:
        record = dict(record)
        record["optimizers"] = tuple(OptimizerSpec.from_dict(o) for o in record["optimizers"])
        record["sizes"] = tuple(record["sizes"])
        return cls(**record)


def data_fingerprint(data: MnistData) -> str:
    """SHA-256 over the four arrays' shapes, dtypes and bytes: which data a run saw."""
    digest = hashlib.sha256()
    for array in data:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.shape}{array.dtype.str}".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


@dataclass(frozen=True)
class ChunkDone:
    """What ``on_chunk`` receives after every chunk: iterations ``previous .. done - 1``
    were run; ``losses[optimizer, iteration]`` is filled up to ``done``;
    ``new_divergences``: optimizers whose loss turned non-finite in this chunk."""

    previous: int
    done: int
    iterations: int
    labels: list[str]
    losses: np.ndarray
    new_divergences: dict[str, int]


@dataclass(frozen=True)
class RunResult:
    """``summary`` is what ``losses.json`` holds; ``interrupted``: stopped by Ctrl-C."""

    summary: dict[str, Any]
    interrupted: bool
    folder: Path


def summarize(config: RunConfig, losses: np.ndarray, test_accuracy: Any, **info: Any) -> dict:
    """The content of ``losses.json``: settings, final means, accuracies, every loss."""
    labels = config.labels
    window = min(LOG_EVERY, losses.shape[1])
    accuracies = [None] * len(labels) if test_accuracy is None else list(test_accuracy)
    return files.json_safe({
        "iterations": config.iterations,
        "batch_size": config.batch_size,
        "seed": config.seed,
        "sizes": list(config.sizes),
        **info,
        "optimizers": labels,
        "display_names": [display_name(label) for label in labels],
        "config": config.to_dict(),
        "iterations_done": int(losses.shape[1]),
        "final_mean_loss": {
            label: float(row[-window:].mean()) if row.size else None
            for label, row in zip(labels, losses, strict=True)
        },
        "test_accuracy": dict(zip(labels, accuracies, strict=True)),
        "diverged": first_nonfinite(losses, labels),
        "losses": {label: row.tolist() for label, row in zip(labels, losses, strict=True)},
    })  # fmt: skip


RESULT_HEADERS = ["optimizer", "mean train loss, last 100 iterations", "test accuracy"]


def result_rows(summary: dict[str, Any]) -> list[list[str]]:
    """One row per optimizer of a summary: its name, final mean loss and test accuracy."""
    rows = []
    for label in summary["optimizers"]:
        final, accuracy = summary["final_mean_loss"][label], summary["test_accuracy"][label]
        rows.append([display_name(label), "n/a" if final is None else f"{final:.4f}",
                     "diverged" if accuracy is None else f"{accuracy:.4f}"])  # fmt: skip
    return rows


MAX_RECORD_BYTES = 1 << 20
"""A checkpoint's run record (its config as JSON) is refused above this size."""


def _record_error(path: Path, what: str) -> checkpoint.CheckpointError:
    return checkpoint.CheckpointError(
        f"{path} is not a checkpoint of a jaxopt-lab mnist run: {what}"
    )


def read_run_record(raw: Any, path: Path) -> tuple[dict, RunConfig, int]:
    """The run record, config and iteration of a checkpoint loaded without ``like``.

    Checked against the schema a run writes before anything is built from it:
    ``{"run": uint8[n], "carry": {..., "iteration": int}}``, the record strict
    JSON ``{"format": 1, "config": RunConfig, "data": sha256}``, the iteration
    within the config's. Raises :class:`~jaxopt_lab.checkpoint.CheckpointError`
    in one line (never more than a few hundred characters of the record).
    """
    if not isinstance(raw, dict) or set(raw) != {"run", "carry"}:
        keys = sorted(map(str, raw)) if isinstance(raw, dict) else type(raw).__name__
        raise _record_error(path, f"it holds {keys!s:.200}, not 'run' and 'carry'")
    run_bytes, carry = raw["run"], raw["carry"]
    if not (isinstance(run_bytes, np.ndarray) and run_bytes.dtype == np.uint8
            and run_bytes.ndim == 1 and run_bytes.size <= MAX_RECORD_BYTES):  # fmt: skip
        raise _record_error(path, f"its run record is not at most {MAX_RECORD_BYTES} bytes")
    try:
        record = json.loads(run_bytes.tobytes().decode("utf-8"))
    except (ValueError, RecursionError) as error:
        raise _record_error(path, f"its run record is not JSON ({error!s:.200})") from None
    if not isinstance(record, dict) or record.get("format") != RUN_FORMAT:
        raise _record_error(path, f"its run record is not of format {RUN_FORMAT}")
    data = record.get("data")
    if not (isinstance(data, str) and len(data) == 64 and set(data) <= set("0123456789abcdef")):
        raise _record_error(path, "its run record has no data fingerprint (a SHA-256)")
    try:
        saved = RunConfig.from_dict(record["config"])
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as error:
        raise _record_error(path, f"its config is not valid ({error!s:.200})") from None
    iteration = carry.get("iteration") if isinstance(carry, dict) else None
    if not (isinstance(iteration, (np.ndarray, np.generic, jax.Array)) and np.ndim(iteration) == 0
            and np.issubdtype(iteration.dtype, np.integer)):  # fmt: skip
        raise _record_error(path, "its carry has no scalar integer 'iteration'")
    done = int(iteration)
    if not 0 <= done <= saved.iterations:
        raise _record_error(path, f"iteration {done} is outside [0, {saved.iterations}]")
    return record, saved, done


class TrainingRun(HeldFolder):
    """A run of :func:`jaxopt_lab.mnist.compare` that owns ``folder``; see the module doc.

    Use as a context manager: entering checks the folder, takes its lock and
    reads any checkpoint (raising :class:`RunError`); :meth:`train` runs.
    ``start_iteration`` says where training will start (0, or the checkpoint's).
    """

    folder_error = RunError

    def __init__(
        self,
        folder: str | Path,
        config: RunConfig,
        *,
        checkpoint_every: int | None = None,
        resume: bool = False,
    ):
        if checkpoint_every is not None and (
            isinstance(checkpoint_every, bool)
            or not isinstance(checkpoint_every, int)
            or checkpoint_every < 1
        ):
            raise ValueError(
                f"checkpoint_every must be a positive integer, got {checkpoint_every!r}"
            )
        self.folder = Path(folder)
        self.config = config
        self.checkpoint_every = checkpoint_every
        self.resume = resume
        self.start_iteration = 0
        self._start: CompareCarry | None = None
        self._saved_fingerprint: str | None = None

    # ----------------------------------------------------------------- entering

    def check_folder(self) -> None:
        self._read_checkpoint()

    def _like(self, run_bytes: np.ndarray | None = None) -> dict:
        config = self.config
        optimizers = {spec.label: spec.build() for spec in config.optimizers}
        carry = initial_carry(
            optimizers, config.iterations, config.seed, sizes=config.sizes,
            dtype=jnp.dtype(config.dtype),
        )  # fmt: skip
        return {"run": run_bytes, "carry": carry}

    def _read_checkpoint(self) -> None:
        path = self.folder / CHECKPOINT
        if not path.exists():
            return
        try:
            raw = checkpoint.load(path)
            record, saved, done = read_run_record(raw, path)
        except checkpoint.CheckpointError as error:
            raise RunError(f"cannot resume: {error}") from None
        if not self.resume:
            raise RunError(
                f"{self.folder} holds the checkpoint of a run at iteration {done} of "
                f"{saved.iterations}; resume it (--resume) or choose another folder"
            )
        mine, theirs = self.config.to_dict(), saved.to_dict()
        differing = [key for key in mine if mine[key] != theirs[key]]
        if differing:
            shown = "; ".join(
                f"{key}: saved {theirs[key]!r}, now {mine[key]!r}" for key in differing
            )
            raise RunError(
                f"cannot resume {path}: it was saved with other settings ({shown:.300}); rerun "
                "with the same settings, or choose another folder"
            )
        like = self._like(np.asarray(raw["run"], np.uint8))
        try:
            loaded = checkpoint.load(path, like=like)
        except checkpoint.CheckpointError as error:
            raise RunError(f"cannot resume: {error}") from None
        self._start = loaded["carry"]
        self._saved_fingerprint = record["data"]
        self.start_iteration = int(self._start.iteration)

    # ----------------------------------------------------------------- training

    def _save_checkpoint(self, carry: CompareCarry, fingerprint: str) -> None:
        record = {"format": RUN_FORMAT, "config": self.config.to_dict(), "data": fingerprint}
        run_bytes = np.frombuffer(json.dumps(record).encode("utf-8"), np.uint8)
        # A full disk raises files.WriteError: one line, the previous checkpoint whole.
        checkpoint.save(self.folder / CHECKPOINT, {"run": run_bytes, "carry": carry})

    def _write_outputs(self, losses: np.ndarray, test_accuracy: Any, info: dict) -> dict:
        """``losses.json`` and ``loss_curves.png`` as one :class:`~jaxopt_lab.files.Result`."""
        summary = summarize(self.config, losses, test_accuracy, **info)
        figure = plot_mnist_losses(dict(zip(self.config.labels, losses, strict=True)))
        with files.Result(self.folder) as result:
            result.add(LOSSES, files.json_bytes(summary))
            result.add(FIGURE, files.figure_bytes(figure))
        return summary

    def train(
        self,
        data: MnistData,
        on_chunk: Callable[[ChunkDone], None] | None = None,
        stop: threading.Event | None = None,
    ) -> RunResult:
        """Train (or continue) the run on ``data``; write the outputs; return the summary.

        Training stops at the next chunk boundary once ``stop`` is set (a caller's
        Ctrl-C handler sets it), or on ``KeyboardInterrupt`` raised between chunks;
        either way the outputs hold what was done and ``interrupted`` is true.
        """
        if self._lock is None:
            raise RunError("enter the run first: with TrainingRun(...) as run: run.train(data)")
        config = self.config
        fingerprint = data_fingerprint(data)
        if self._saved_fingerprint is not None and fingerprint != self._saved_fingerprint:
            raise RunError(
                f"cannot resume {self.folder / CHECKPOINT}: it was trained on other data "
                f"(fingerprint {self._saved_fingerprint[:12]}..., these data "
                f"{fingerprint[:12]}...); use the same data, or choose another folder"
            )
        every = self.checkpoint_every
        chunk_size = math.gcd(LOG_EVERY, every) if every else LOG_EVERY
        labels = config.labels
        state = {"done": self.start_iteration, "carry": self._start, "warned": set()}

        def chunk_done(carry: CompareCarry) -> None:
            done = int(carry.iteration)
            if every and (done % every == 0 or done == config.iterations):
                self._save_checkpoint(carry, fingerprint)
            new = {
                label: iteration
                for label, iteration in first_nonfinite(carry.losses[:, :done], labels).items()
                if label not in state["warned"]
            }
            state["warned"].update(new)
            previous, state["done"], state["carry"] = state["done"], done, carry
            if on_chunk is not None:
                on_chunk(ChunkDone(previous, done, config.iterations, labels, carry.losses, new))
            if stop is not None and stop.is_set():
                raise _Stopped

        info = {"checkpoint_every": every}
        try:
            result = compare(
                {spec.label: spec.build() for spec in config.optimizers},
                data, config.iterations, config.batch_size, config.seed,
                sizes=config.sizes, dtype=jnp.dtype(config.dtype), chunk_size=chunk_size,
                start=self._start, on_chunk=chunk_done,
            )  # fmt: skip
        except (KeyboardInterrupt, _Stopped):
            done = state["done"]
            if state["carry"] is not None and done > self.start_iteration:
                losses = np.asarray(state["carry"].losses)[:, :done]
                summary = self._write_outputs(losses, None, info)
            else:
                summary = None
            return RunResult(summary or {"iterations_done": done}, True, self.folder)
        info.update(compile_seconds=result.compile_seconds, run_seconds=result.run_seconds)
        summary = self._write_outputs(result.losses, result.test_accuracy, info)
        return RunResult(summary, False, self.folder)
