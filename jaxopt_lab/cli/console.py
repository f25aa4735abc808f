"""The terminal while a run trains: the tutorial's log, a progress bar, Ctrl-C.

Presentation only, for the command line: the progress bar is ``tqdm``'s; the
library computes and reports progress through a callback, this prints it.
Tables are :func:`jaxopt_lab.report.tables.markdown_table`.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any, TextIO


def _display(label: str) -> str:
    from jaxopt_lab.report.figures import display_name

    return display_name(label)


class TutorialLog:
    """An ``on_chunk`` callback for :class:`~jaxopt_lab.runs.training.TrainingRun`: the tutorial log
    (a header and every optimizer's loss each 100 iterations) on ``out``, divergence
    warnings and a progress bar with ETA on ``err`` when it is a terminal."""

    def __init__(self, iterations: int, start: int = 0, *, out: TextIO | None = None,
                 err: TextIO | None = None, log_every: int = 100):  # fmt: skip
        self.out, self.err = out or sys.stdout, err or sys.stderr
        self.log_every = log_every
        self.bar = None
        if self.err.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=iterations, initial=start, file=self.err, unit="it",
                            dynamic_ncols=True, leave=False)  # fmt: skip

    def __call__(self, chunk: Any) -> None:
        if self.bar is not None:
            self.bar.clear()
        for iteration in range(chunk.previous, chunk.done):
            if iteration % self.log_every == 0:  # the tutorial's log, as it prints it
                print("===========" + "iteration:" + str(iteration) + "===========", file=self.out)
                for label, row in zip(chunk.labels, chunk.losses, strict=True):
                    print(_display(label) + ":" + str(row[iteration]), file=self.out)
        for label, iteration in chunk.new_divergences.items():
            value = chunk.losses[chunk.labels.index(label), iteration]
            print(
                f"warning: {_display(label)} loss became {value} at iteration {iteration}; "
                "its curve stops there, the other optimizers go on",
                file=self.err,
            )
        self.out.flush()
        if self.bar is not None:
            self.bar.update(chunk.done - chunk.previous)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class CtrlC:
    """SIGINT while a run trains (after its first chunk): stop at the next chunk boundary
    and write what there is. Any other time (imports, loading data, compiling), or a
    second Ctrl-C: exit at once with status 130. A ``KeyboardInterrupt`` raised inside
    JAX's compiler callbacks can crash the interpreter at exit (a segmentation fault),
    so Ctrl-C never raises one here; nothing is lost, as every file is written atomically.
    """

    def __init__(self, command: str):
        self.command = command
        self.stop = threading.Event()
        self.deferrable = False

    def __enter__(self) -> CtrlC:
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self.handle)
        return self

    def __exit__(self, *exc_info) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)

    def handle(self, signum, frame) -> None:
        if self.deferrable and not self.stop.is_set():
            self.stop.set()
            return
        sys.stdout.flush()
        print(f"jaxopt-lab {self.command}: interrupted", file=sys.stderr, flush=True)
        os._exit(130)
