"""The conventions that make a naive port differ, each measured against the live library.

A *naive port* is what someone would write from the documentation: optax's
``clip_by_global_norm`` for ``clip_grad_norm_``, optax's cosine for
``CosineAnnealingLR``, ``optax.adamw`` for ``AdamW``... Each
:class:`Convention` runs the library (from a ``jaxopt-lab port`` text), the
naive port and the faithful port over the same gradients, and reports how far
each lands from the library: ulps of the leaf's scale in float32, relative
error in float64. ``jaxopt-lab port --conventions`` prints the docs' table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import optax

from jaxopt_lab import crosscheck
from jaxopt_lab.port.command import Prepared, compiled, prepare
from jaxopt_lab.report.tables import markdown_table


@dataclasses.dataclass(frozen=True)
class Convention:
    """One convention: the library's texts and the naive port of them.

    ``naive(prepared)`` returns the naive transformation; it may read the live
    objects in ``prepared`` (to reuse everything but the one convention).
    """

    title: str
    naive_port: str
    optimizer: str
    naive: Callable[[Prepared], optax.GradientTransformation]
    scheduler: str | None = None
    library: str = "torch"
    clip_grad_norm: float | None = None
    scheduler_every: int = 1
    gradient_scale: float = 1.0


def _f32(value: float) -> float:
    return float(np.float32(value))


def _torch_schedule(prepared: Prepared, every: int = 1, steps: int = 1000):
    from jaxopt_lab.port import torch_schedule, torch_schedules

    optimizer, scheduler = prepared.live
    groups = [{"lr": g.get("initial_lr", g["lr"])} for g in optimizer.param_groups]
    spec = torch_schedules.spec_from_torch(scheduler)
    return torch_schedule(spec, groups, every=every, steps=steps).lr[0]


def _per_step_port(prepared: Prepared) -> optax.GradientTransformation:
    from jaxopt_lab.port import from_torch

    return from_torch(*prepared.live, steps=1000)


def _lab_momentum_with_torch_schedule(prepared: Prepared) -> optax.GradientTransformation:
    import jaxopt_lab

    return jaxopt_lab.momentum(_torch_schedule(prepared), 0.9)


def _naive_onecycle(prepared: Prepared) -> optax.GradientTransformation:
    return optax.adamw(optax.cosine_onecycle_schedule(1000, 1e-3), weight_decay=0.01)


CONVENTIONS: tuple[Convention, ...] = (
    Convention(
        "torch's clip_grad_norm_ adds 1e-6 to the norm and always multiplies "
        "(gradient norm about 12)",
        "optax.clip_by_global_norm(1.0) before optax.sgd(0.01, momentum=0.9)",
        "SGD(lr=0.01, momentum=0.9)",
        lambda p: optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(0.01, momentum=0.9)),
        clip_grad_norm=1.0,
    ),
    Convention(
        "the same, gradient norm about 0.6 (the 1e-6 is relative to the norm)",
        "optax.clip_by_global_norm(0.5) before optax.sgd(0.01, momentum=0.9)",
        "SGD(lr=0.01, momentum=0.9)",
        lambda p: optax.chain(optax.clip_by_global_norm(0.5), optax.sgd(0.01, momentum=0.9)),
        clip_grad_norm=0.5,
        gradient_scale=0.05,
    ),
    Convention(
        "torch's AdamW scales p by 1 - lr*wd before the Adam step",
        "optax.adamw(1e-3, weight_decay=0.1) (the decay inside the update)",
        "AdamW(lr=1e-3, weight_decay=0.1)",
        lambda p: optax.adamw(1e-3, weight_decay=0.1),
    ),
    Convention(
        "torch's Adam(weight_decay=) is L2 on the gradient, not decoupled",
        "optax.adamw(1e-3, weight_decay=0.1)",
        "Adam(lr=1e-3, weight_decay=0.1)",
        lambda p: optax.adamw(1e-3, weight_decay=0.1),
    ),
    Convention(
        "CosineAnnealingLR keeps cycling past T_max",
        "optax.cosine_decay_schedule(0.1, 300), which holds its end value",
        "SGD(lr=0.1, momentum=0.9)",
        lambda p: optax.sgd(optax.cosine_decay_schedule(0.1, 300), momentum=0.9),
        scheduler="CosineAnnealingLR(T_max=300)",
    ),
    Convention(
        "CosineAnnealingLR is recursive (within T_max)",
        "optax.cosine_decay_schedule(0.1, 1000), the closed form",
        "SGD(lr=0.1, momentum=0.9)",
        lambda p: optax.sgd(optax.cosine_decay_schedule(0.1, 1000), momentum=0.9),
        scheduler="CosineAnnealingLR(T_max=1000)",
    ),
    Convention(
        "OneCycleLR ends its phases at pct*T - 1 and T - 1 and cycles beta1 0.95 -> 0.85 -> 0.95",
        "optax.adamw(optax.cosine_onecycle_schedule(1000, 1e-3), weight_decay=0.01)",
        "AdamW(lr=1e-3, weight_decay=0.01)",
        _naive_onecycle,
        scheduler="OneCycleLR(max_lr=1e-3, total_steps=1000)",
    ),
    Convention(
        "a scheduler stepped once per epoch (here 10 optimizer steps)",
        "the same schedule stepped every optimizer step",
        "SGD(lr=0.1, momentum=0.9)",
        _per_step_port,
        scheduler="StepLR(step_size=10, gamma=0.8)",
        scheduler_every=10,
    ),
    Convention(
        "torch's SGD momentum b = mu*b + g; p -= lr*b, under a changing learning rate",
        "jaxopt_lab.momentum (v = mu*v - lr*g, Keras's form) with torch's schedule",
        "SGD(lr=0.1, momentum=0.9)",
        _lab_momentum_with_torch_schedule,
        scheduler="StepLR(step_size=100, gamma=0.1)",
    ),
    Convention(
        "torch's RMSprop defaults: alpha 0.99, eps 1e-8 outside the square root",
        "optax.rmsprop(1e-3) (decay 0.9, eps inside)",
        "RMSprop(lr=1e-3)",
        lambda p: optax.rmsprop(1e-3),
    ),
    Convention(
        "torch's Adagrad: accumulator from 0, eps 1e-10 outside the square root",
        "optax.adagrad(0.01) (from 0.1, eps 1e-7 inside)",
        "Adagrad(lr=0.01)",
        lambda p: optax.adagrad(0.01),
    ),
    Convention(
        "Keras's clipnorm clips each variable on its own",
        "optax.clip_by_global_norm(1.0) before jaxopt_lab.momentum",
        "SGD(learning_rate=0.01, momentum=0.9, clipnorm=1.0)",
        lambda p: optax.chain(optax.clip_by_global_norm(1.0), _lab("momentum", _f32(0.01), 0.9)),
        library="keras",
    ),
    Convention(
        "Keras's global_clipnorm multiplies by clip * min(1/norm, 1/clip)",
        "optax.clip_by_global_norm(1.0) before jaxopt_lab.sgd",
        "SGD(learning_rate=0.01, global_clipnorm=1.0)",
        lambda p: optax.chain(optax.clip_by_global_norm(1.0), _lab("sgd", _f32(0.01))),
        library="keras",
    ),
    Convention(
        "Keras's CosineDecay counts decay_steps after the warmup",
        "optax.warmup_cosine_decay_schedule(0.0, 1e-3, 200, 800), whose decay_steps include it",
        "Adam(learning_rate=CosineDecay(0.0, decay_steps=800, warmup_target=1e-3, "
        "warmup_steps=200))",
        lambda p: _lab("adam", optax.warmup_cosine_decay_schedule(0.0, 1e-3, 200, 800)),
        library="keras",
    ),
    Convention(
        "Keras's AdamW subtracts p*wd*lr before the Adam step",
        "jaxopt_lab.adamw(weight_decay=0.1) (the decay inside the update)",
        "AdamW(learning_rate=1e-3, weight_decay=0.1)",
        lambda p: _lab("adamw", _f32(1e-3), weight_decay=0.1),
        library="keras",
    ),
    Convention(
        "Keras keeps a float learning rate in a float32 variable",
        "jaxopt_lab.momentum(0.1, 0.9) with the float64 0.1",
        "SGD(learning_rate=0.1, momentum=0.9)",
        lambda p: _lab("momentum", 0.1, 0.9),
        library="keras",
    ),
    Convention(
        "Keras computes a schedule's cos (and floor, ceil) in float32, also in float64",
        "jaxopt_lab.sgd(optax.cosine_decay_schedule(0.1, 1000))",
        "SGD(learning_rate=CosineDecay(0.1, decay_steps=1000))",
        lambda p: _lab("sgd", optax.cosine_decay_schedule(0.1, 1000)),
        library="keras",
    ),
)
"""The conventions the docs measure (docs/torch-keras-port.md)."""


def _lab(name: str, *args: Any, **kwargs: Any) -> optax.GradientTransformation:
    import jaxopt_lab

    return getattr(jaxopt_lab, name)(*args, **kwargs)


@dataclasses.dataclass(frozen=True)
class Measured:
    """A convention's distances from the library: the naive port's and the port's.

    ``*_ulps``: the largest ulps of the leaf's scale over the float32 run;
    ``*_relative``: the largest relative error over the float64 run.
    """

    convention: Convention
    steps: int
    naive_ulps: float
    naive_relative: float
    port_ulps: float
    port_relative: float


def measure(
    convention: Convention,
    *,
    steps: int = 1000,
    seed: int = 0,
    sides: Sequence[str] = ("naive", "port"),
    dtypes: Sequence[Any] = (np.float32, np.float64),
) -> Measured:
    """Run the library, the naive port and the port over the same gradients, in both dtypes.

    N(0, 1) params, N(0, ``gradient_scale ** 2``) gradients. A side or dtype left
    out reads NaN.
    """
    prepared = prepare(
        convention.optimizer,
        convention.scheduler,
        library=convention.library,
        clip_grad_norm=convention.clip_grad_norm,
        scheduler_every=convention.scheduler_every,
        steps=steps,
        seed=seed,
    )
    gradients = crosscheck.random_gradients(
        prepared.params, steps, seed=seed + 1, scale=convention.gradient_scale
    )
    distances = {
        f"{side}_{measure}": float("nan")
        for side in ("naive", "port")
        for measure in ("ulps", "relative")
    }
    makers = {"naive": convention.naive, "port": lambda p: p.recipe.build()}
    for side in sides:
        make = makers[side]
        for dtype in map(np.dtype, dtypes):
            result = crosscheck.compare(
                compiled(make(prepared)),
                prepared.library_side,
                prepared.params,
                gradients,
                dtype=dtype,
            )
            if dtype == np.float32:
                distances[f"{side}_ulps"] = float(result.max_scaled_ulps.max())
            else:
                distances[f"{side}_relative"] = float(result.max_rel_error.max())
    return Measured(convention, steps, **distances)


def measure_all(
    conventions: Sequence[Convention] | None = None, *, steps: int = 1000
) -> Iterator[Measured]:
    """:func:`measure` each convention (default: :data:`CONVENTIONS`), as each finishes."""
    for convention in CONVENTIONS if conventions is None else conventions:
        yield measure(convention, steps=steps)


def conventions_markdown(measured: Sequence[Measured | dict]) -> str:
    """Measured conventions (or their :func:`dataclasses.asdict` less ``convention``, with
    ``title`` and ``naive_port``) as the Markdown table the docs show."""
    entries = [
        {"title": m.convention.title, "naive_port": m.convention.naive_port,
         **{key: getattr(m, key) for key in ("naive_ulps", "naive_relative", "port_ulps",
                                             "port_relative")}}
        if isinstance(m, Measured) else m
        for m in measured
    ]  # fmt: skip
    rows = [
        [e["title"], e["naive_port"], f"{e['naive_ulps']:.1f}", f"{e['naive_relative']:.1e}",
         f"{e['port_ulps']:.1f}", f"{e['port_relative']:.1e}"]
        for e in entries
    ]  # fmt: skip
    headers = ["convention", "naive port", "naive: float32 ulps", "naive: float64 rel.",
               "port: float32 ulps", "port: float64 rel."]  # fmt: skip
    return markdown_table(rows, headers, align=["left"] * 6)


def conventions_table(conventions: Sequence[Convention] | None = None, *, steps: int = 1000) -> str:
    """:func:`measure_all` as the docs' Markdown table."""
    return conventions_markdown(list(measure_all(conventions, steps=steps)))
