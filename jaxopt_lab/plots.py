"""Every figure of the lab. Functions return a ``matplotlib.figure.Figure``; callers save it.

Figures are built on ``matplotlib.figure.Figure`` directly (no ``pyplot``), so
they need no display and leave no global state behind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

DISPLAY_NAMES = {
    "sgd": "SGD",
    "momentum": "Momentum",
    "nesterov": "Nesterov",
    "adagrad": "AdaGrad",
    "rmsprop": "RMSprop",
    "adam": "Adam",
    "adamw": "AdamW",
}
"""How the seed writes each optimizer's name in its figures and logs."""


def display_name(name: str) -> str:
    """``"adam"`` -> ``"Adam"``; ``"adam:0.01"`` -> ``"Adam:0.01"``; unknown names unchanged."""
    base, separator, rest = name.partition(":")
    return DISPLAY_NAMES.get(base, base) + separator + rest


# --------------------------------------------------------------------------- MNIST


MNIST_MARKERS = {"sgd": "o", "momentum": "x", "adagrad": "s", "adam": "D"}
"""The seed's markers; other optimizers cycle through ``_EXTRA_MARKERS``."""
_EXTRA_MARKERS = ("^", "v", "P", "*", "<", ">", "h")


def plot_mnist_losses(
    losses: Mapping[str, Sequence[float] | np.ndarray],
    *,
    smooth: bool = True,
    markevery: int = 100,
    ylim: tuple[float, float] | None = (0.0, 1.0),
    title: str | None = None,
) -> Figure:
    """The seed's loss-curve figure: train loss against iteration, one line per optimizer.

    Each curve is smoothed with the seed's ``smooth_curve`` (a Kaiser window of
    11, beta 2; :func:`jaxopt_lab.mnist.smooth_curve`) and marked every
    ``markevery`` iterations with the seed's markers; the y axis is cut at
    ``ylim`` as in the seed (``None``: automatic). A curve that becomes NaN or
    infinite is drawn up to there and ends with a red cross.
    """
    from jaxopt_lab.mnist import smooth_curve

    figure = Figure(figsize=(7, 4.5), layout="constrained")
    axes = figure.subplots()
    extra_markers = iter(_EXTRA_MARKERS * 4)
    for name, values in losses.items():
        values = np.asarray(values, np.float64)
        finite = np.isfinite(values)
        end = values.size if finite.all() else int(np.argmin(finite))
        curve = smooth_curve(values[:end]) if smooth else values[:end]
        marker = MNIST_MARKERS.get(name.partition(":")[0]) or next(extra_markers)
        (line,) = axes.plot(
            np.arange(end), curve, marker=marker, markevery=markevery, label=display_name(name)
        )
        if end < values.size:
            last = curve[-1] if end else (ylim[1] if ylim else 0.0)
            axes.plot([end], [min(last, ylim[1]) if ylim else last], "x", color="red", ms=10)
            line.set_label(f"{display_name(name)} (diverged at {end})")
    axes.set_xlabel("iterations")
    axes.set_ylabel("loss")
    if ylim is not None:
        axes.set_ylim(*ylim)
    if title:
        axes.set_title(title)
    axes.legend()
    return figure


def plot_mnist_sweep(
    learning_rates: Sequence[float] | np.ndarray,
    final_loss: np.ndarray,
    *,
    label: str = "",
    title: str | None = None,
) -> Figure:
    """Final train loss against learning rate (log x axis).

    ``final_loss[learning_rate, seed]``: one faint point per seed and a line
    through the mean over seeds. Non-finite losses (diverged runs) are shown
    as red crosses at the top of the axis.
    """
    learning_rates = np.asarray(learning_rates, np.float64)
    final_loss = np.asarray(final_loss, np.float64).reshape(learning_rates.size, -1)
    figure = Figure(figsize=(6, 4), layout="constrained")
    axes = figure.subplots()
    finite = np.isfinite(final_loss)
    for seed_index in range(final_loss.shape[1]):
        ok = finite[:, seed_index]
        axes.plot(learning_rates[ok], final_loss[ok, seed_index], ".", color="gray", alpha=0.5)
    with np.errstate(invalid="ignore"):
        mean = np.where(finite.all(axis=1), final_loss.mean(axis=1), np.nan)
    axes.plot(learning_rates, mean, "o-", label=f"{display_name(label)} (mean over seeds)")
    if not finite.all():
        top = np.nanmax(np.where(finite, final_loss, np.nan)) if finite.any() else 1.0
        bad = ~finite.all(axis=1)
        axes.plot(learning_rates[bad], np.full(bad.sum(), top), "x", color="red", label="diverged")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("learning rate")
    axes.set_ylabel("final train loss")
    if title:
        axes.set_title(title)
    axes.legend()
    return figure
