"""``jaxopt-lab port``: a call text -> the optax code, and its agreement with the library::

    result = port_optimizer("AdamW(lr=3e-4, weight_decay=0.1)",
                            scheduler="OneCycleLR(max_lr=1e-3, total_steps=1000)",
                            clip_grad_norm=1.0)
    result.code               # the lab/optax code to paste
    result.agreement_lines()  # per-step agreement with the live library

The texts are parsed with :mod:`ast` (:mod:`~jaxopt_lab.port.call_text`, never
evaluated): a call as pasted from a script, qualified or not
(``torch.optim.AdamW(model.parameters(), lr=3e-4)``), whose arguments are Python
literals or, where the library takes one, another call (a scheduler in
``SequentialLR``'s list, a Keras schedule as ``learning_rate``). A torch
optimizer's first positional argument is skipped (the params), or, when it is
a list of group dicts, gives its param groups' overrides with their
``params`` ignored, as in torch: ``AdamW([{"lr": 1e-3}, {"weight_decay": 0.0}],
lr=3e-4)`` (two groups; each group gets a 16x8 weight and a 16 bias); a
scheduler's first positional argument, its optimizer, is skipped. The live objects are
built by :mod:`~jaxopt_lab.port.library_side`; this module runs both sides and reports.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np
import optax

from jaxopt_lab import crosscheck
from jaxopt_lab.port.call_text import CallText, Unresolved, parse_call
from jaxopt_lab.port.library_side import MAX_GROUPS, Prepared, prepare
from jaxopt_lab.port.recipe import Recipe

__all__ = [
    "MAX_GROUPS",
    "CallText",
    "PortResult",
    "Prepared",
    "Unresolved",
    "compiled",
    "parse_call",
    "port_optimizer",
    "prepare",
    "schedule_notes",
]


@dataclasses.dataclass(frozen=True)
class PortResult:
    """What ``jaxopt-lab port`` found: the code, and the per-step comparison with the library."""

    description: str
    recipe: Recipe
    comparison: crosscheck.Comparison
    failure: str | None
    ulps_per_step: float
    notes: tuple[str, ...] = ()

    @property
    def code(self) -> str:
        return self.recipe.code()

    @property
    def first_divergence(self) -> int | None:
        """The first step (1-based) after which the two sides' params differ in any bit."""
        differing = np.flatnonzero(self.comparison.max_ulp_distance > 0)
        return int(differing[0]) + 1 if differing.size else None

    def agreement_lines(self) -> list[str]:
        """The agreement, as lines of text: checkpoints, first divergence, verdict."""
        result = self.comparison
        lines = [
            f"# {result.steps} steps in {result.dtype.name}, N(0, 1) gradients from N(0, 1) params",
            "| step | ulps of the leaf's scale | max elementwise ulps | relative error | leaf |",
            "|---|---|---|---|---|",
        ]
        checkpoints = sorted({1, 10, 100, result.steps, *[s for s in (1000,) if s <= result.steps]})
        checkpoints = [step for step in checkpoints if step <= result.steps]
        for step in checkpoints:
            index = step - 1
            lines.append(
                f"| {step} | {result.max_scaled_ulps[index]:.2f} | "
                f"{result.max_ulp_distance[index]:.0f} | {result.max_rel_error[index]:.2e} | "
                f"{result.worst_leaf[index]} |"
            )
        if result.max_update_ulps is not None:
            updates = result.max_update_ulps
            lines.append(
                f"updates: worst {np.nanmax(updates):.2f} ulps of the update's own scale "
                f"(step {int(np.nanargmax(updates)) + 1}; step 1: {updates[0]:.2f})"
            )
        worst = int(np.argmax(result.max_scaled_ulps))
        per_step = result.max_scaled_ulps / np.arange(1, result.steps + 1)
        first = self.first_divergence
        lines.append(
            "first divergence: "
            + (
                "none, bit-identical at every step"
                if first is None
                else f"step {first} (leaf {result.worst_leaf[first - 1]})"
            )
        )
        lines.append(
            f"worst: {result.max_scaled_ulps[worst]:.2f} ulps of the leaf's scale "
            f"(step {worst + 1}); largest per step: {per_step.max():.3f} ulps"
        )
        verdict = "within" if self.failure is None else "OUTSIDE"
        lines.append(
            f"{verdict} the bound of {self.ulps_per_step:g} ulp of the leaf's scale per step"
        )
        if self.failure is not None:
            lines.append(self.failure)
        lines.extend(self.notes)
        return lines


def compiled(transformation: optax.GradientTransformation) -> optax.GradientTransformation:
    """The same transformation with a jitted ``init`` (one compilation, not one per op)."""
    return optax.GradientTransformation(jax.jit(transformation.init), transformation.update)


def port_optimizer(
    optimizer: str | CallText,
    scheduler: str | CallText | None = None,
    *,
    library: str | None = None,
    clip_grad_norm: float | None = None,
    clip_grad_value: float | None = None,
    clip_norm_type: float = 2.0,
    scheduler_every: int = 1,
    steps: int = 1000,
    dtype: Any = np.float32,
    seed: int = 0,
    float64_rtol: float = 1e-12,
    emit: str = "lab",
    updates: bool = False,
) -> PortResult:
    """Port the library call in ``optimizer`` (and ``scheduler``) and compare it with the library.

    Both run ``steps`` steps from the same N(0, 1) params (a 16x8 weight and a
    16 bias per param group) over the same N(0, 1) gradients, in ``dtype``, held
    to 1 ulp of the leaf's scale per step, and in float64 to ``float64_rtol``.
    ``emit="optax"`` compares (and returns) plain optax code instead where the
    equivalence table has an exact optax form
    (:func:`~jaxopt_lab.port.emit_optax.optax_form`), and says why not where it has none.
    ``updates`` also measures each step's update (in ulps of the update's own
    scale, :attr:`~jaxopt_lab.crosscheck.Comparison.max_update_ulps`), step by step.
    Raises ``ValueError`` (bad text or arguments) or ``PortError`` (what the
    port does not cover), each with a one-line message.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if emit not in ("lab", "optax"):
        raise ValueError(f"emit must be 'lab' or 'optax', got {emit!r}")
    prepared = prepare(
        optimizer,
        scheduler,
        library=library,
        clip_grad_norm=clip_grad_norm,
        clip_grad_value=clip_grad_value,
        clip_norm_type=clip_norm_type,
        scheduler_every=scheduler_every,
        steps=steps,
        seed=seed,
    )
    recipe, emitted = prepared.recipe, ()
    if emit == "optax":
        from jaxopt_lab.port.emit_optax import optax_form

        form = optax_form(prepared.recipe)
        recipe, emitted = form.recipe or prepared.recipe, form.lines()
    gradients = crosscheck.random_gradients(prepared.params, steps, seed=seed + 1)
    comparison = crosscheck.compare(
        compiled(recipe.build()),
        prepared.library_side,
        prepared.params,
        gradients,
        dtype=dtype,
        updates=updates,
    )
    ulps_per_step = 1.0
    rtol = float64_rtol if dtype == np.float64 else None
    # A case whose library computes part of its step in float32 is held in float64 to
    # its relative bound alone (1 ulp of float64 per step would be 1e-13 after 1000).
    per_step = None if rtol is not None and rtol > 1e-12 else ulps_per_step
    failure = crosscheck.tolerance_failure(comparison, ulps_per_step=per_step, rtol=rtol)
    notes = emitted
    if prepared.library_side is not None and len(prepared.live) == 2 and prepared.live[1]:
        notes += schedule_notes(*prepared.live, every=scheduler_every, steps=steps, dtype=dtype)
    return PortResult(prepared.description, recipe, comparison, failure, ulps_per_step, notes)


def schedule_notes(
    optimizer: Any, scheduler: Any, *, every: int, steps: int, dtype: Any
) -> tuple[str, ...]:
    """What the ported schedule does past ``steps``, and how far its closed form is from
    torch's recursion over those steps (in ulps of the schedule's peak)."""
    from jaxopt_lab.port.closed_forms import closed_form_distance
    from jaxopt_lab.port.torch_optimizers import schedule_groups
    from jaxopt_lab.port.torch_schedules import spec_from_torch, torch_schedule

    spec, groups = spec_from_torch(scheduler), schedule_groups(optimizer)
    schedule = torch_schedule(spec, groups, every=every, steps=steps)
    epochs = schedule.table.lr.shape[0]
    distance = closed_form_distance(spec, groups, epochs, dtype)
    name = type(spec).__name__
    if schedule.exact_until is None:
        where = (
            f"schedule: torch's own {name} values at every step (tabulated to where it "
            "settles or ends; past OneCycleLR's end, where torch raises, its final value)"
        )
    else:
        where = (
            f"schedule: torch's own {name} values for the first {schedule.exact_until} "
            f"optimizer steps (steps={steps}); past them it continues with its closed form "
            "in the run's dtype, not NaN"
        )
    measured = (
        f"closed form of {name} vs torch's recursion, {distance.epochs} scheduler steps in "
        f"{distance.dtype}: at most {distance.max_ulps:.2f} ulps of the schedule's peak, "
        f"{distance.ulps_per_step:.3f} ulps per step (what port.torch_schedule without steps= "
        "gives)"
    )
    return where, measured
