"""What the terminal shows while a run trains: the tutorial's log and a progress bar.

Presentation only, for the command line: the progress bar is ``tqdm``'s; the
library computes and reports progress through a callback, this prints it.
Tables are :func:`jaxopt_lab.report.markdown_table`.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO


def _display(label: str) -> str:
    from jaxopt_lab.plots import display_name

    return display_name(label)


class TutorialLog:
    """An ``on_chunk`` callback for :class:`jaxopt_lab.runs.TrainingRun`: the tutorial's log
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
