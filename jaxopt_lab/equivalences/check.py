"""The machinery of the equivalence table: rows, tolerances, building both sides, judging.

The rows themselves live in the family modules beside this one; see the
package docstring for the format.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
from typing import Any

import jax
import numpy as np
import optax

from jaxopt_lab import crosscheck, optimizers, reference

LIBRARIES = ("tutorial", "optax", "torch", "keras")
"""The other sides of the table, in the order it prints them."""

DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

FLAT_ULPS = 8.0
"""The bound where the formula is the same: 8 ulps of each leaf's scale, at every step.

Measured (``jaxopt-lab check``, 1000 steps of N(0, 1) gradients from N(0, 1)
params): the 76 rows whose library computes every quantity as the lab does
reach at most 3.7 ulps in float32 and 4.2 in float64 (median 1.7 and 0.9), at
any step; the bound leaves twice that. In ulps of the dtype, so in float64 it
is 8 * 2.2e-16 relative, far inside the 1e-12 the issue asks for. A row whose
library rounds differently by design (decay applied as its own update of p,
a bias correction computed in float32, two updates of p per step) declares
``ulps_per_step``, measured, and its note says why; its bound grows by that
much per step on top of this one.
"""

DIFFERS_ABOVE = 1e-3
"""A documented difference must show: relative error above this after the steps (float64)."""

STEPS = 1000
"""Steps per row under ``jaxopt-lab check``."""

KERAS_LR = (
    "Keras keeps the learning rate in a float32 variable: in float64 the lab is given that "
    "rounded value."
)


@dataclasses.dataclass(frozen=True)
class Missing:
    """A library that lacks an optimizer, in a family's ``COUNTERPARTS``.

    ``probe`` is where the library would keep it (``"keras.optimizers.RAdam"``);
    the coverage test checks that it is indeed absent there.
    """

    probe: str


@dataclasses.dataclass(frozen=True, eq=False)
class Equivalence:
    """One row of the equivalence table: a lab setting and another library's.

    Attributes:
      optimizer: the lab optimizer's name in ``jaxopt_lab.OPTIMIZERS``.
      library: one of :data:`LIBRARIES`.
      lab_settings: the lab optimizer's arguments.
      other: the other side as ``"module.Name"`` (``"optax.adam"``,
        ``"optax.contrib.muon"``, ``"torch.optim.Adam"``,
        ``"keras.optimizers.Adam"``, ``"reference.Adam"``).
      other_settings: its arguments.
      note: why the settings are what they are, or why the two differ.
      agrees: False for a documented difference ("differ (documented)"): the
        check then confirms that the two do part, by more than
        :data:`DIFFERS_ABOVE` in float64.
      ulps_per_step: for a row whose library rounds differently by design
        (the note says how, with the measured drift): the bound grows by this
        many ulps per step on top of :data:`FLAT_ULPS`.
      float32_learning_rate: the other side keeps the learning rate in float32
        (Keras's variable): the lab gets that rounded value, in float64 too.
      complex_params: the row runs on complex params and gradients (complex64
        and complex128).
      label: ``"defaults"``, ``"non-default"``, ``"complex"`` or another short
        word: which family of settings the row checks.
      heavy: the default test run checks this row at fewer steps.
      param_shapes: the params' shapes, ``{name: shape}``, where the table's
        dense layer does not suit the row (``torch.optim.Muon`` takes only
        matrices); default: :func:`table_params`'s.
      float64_ulps_per_step: for a row whose library computes part of a
        float64 step in float32 (the note says which part, with the measured
        drift): in float64 the bound grows by this many float64 ulps per step
        instead of ``ulps_per_step``.
      differs_above: for a documented difference, the float64 relative error
        it must exceed (default :data:`DIFFERS_ABOVE`): a library whose
        formula the lab follows only to its own rounding (torch's bfloat16
        iteration in Muon) differs by less than a different formula does.
      differs_below: for a documented difference, the largest relative error
        it may reach at any step, in either dtype (measured, with the margin in
        the note): the positive half of "differ (documented)", so that a
        difference that grows past its stated cause fails. Neither side may
        turn non-finite, unless ``other_diverges``.
      other_diverges: for a documented difference whose cause makes the other
        side's params grow without bound (the note says why, and a test checks
        that cause): the other side may turn non-finite; the lab's may not.
      perturbations: wrong lab settings, ``(what, changes)``, that this row's
        check must catch, beyond the generic ones of :func:`perturbations`
        (a knob of the row's own optimizer).
      blind_to: generic perturbations (by their ``what``) that this row cannot
        resolve, the note saying why (a library that computes in float32
        what the perturbation moves by less than a float32 rounding).
      float32_blind: why this row's float32 check catches none of its
        perturbations (empty: it must catch at least one; see
        ``tests/equivalences/test_equivalence_sensitivity.py``).
    """

    optimizer: str
    library: str
    lab_settings: dict[str, Any]
    other: str | None
    other_settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    note: str = ""
    agrees: bool = True
    ulps_per_step: float = 0.0
    float32_learning_rate: bool = False
    complex_params: bool = False
    label: str = "defaults"
    heavy: bool = False
    param_shapes: dict[str, tuple[int, ...]] | None = None
    float64_ulps_per_step: float = 0.0
    differs_above: float = DIFFERS_ABOVE
    differs_below: float | None = None
    other_diverges: bool = False
    perturbations: tuple[tuple[str, dict[str, Any]], ...] = ()
    blind_to: tuple[str, ...] = ()
    float32_blind: str = ""

    def __post_init__(self):
        if self.library not in LIBRARIES:
            raise ValueError(f"library must be one of {LIBRARIES}, got {self.library!r}")
        loosened = self.ulps_per_step or self.float64_ulps_per_step or not self.agrees
        if loosened and not self.note:
            raise ValueError(
                f"{self.optimizer} vs {self.library}: a row that rounds differently or differs "
                "must say why in its note"
            )

    @property
    def name(self) -> str:
        """A short unique-enough name: ``adam-torch-non-default``."""
        return f"{self.optimizer}-{self.library}-{self.label}"

    def lab_call(self) -> str:
        return _call_text(self.optimizer, self.lab_settings)

    def other_call(self) -> str:
        return _call_text(self.other, self.other_settings) if self.other else "none"


def _call_text(name: str, settings: dict[str, Any]) -> str:
    return f"{name}({', '.join(f'{key}={value!r}' for key, value in settings.items())})"


# --------------------------------------------------------------------------- the two sides


def build_lab(row: Equivalence, **changes: Any) -> optax.GradientTransformation:
    """The lab side of ``row``: the lab optimizer with the row's settings (and ``changes``).

    ``changes`` may hold ``optimizer=`` (another lab optimizer's name) and
    settings to add or replace: the sensitivity test's perturbations.
    """
    name = changes.pop("optimizer", row.optimizer)
    make = optimizers.OPTIMIZERS[name]
    settings = {**row.lab_settings, **changes}
    if row.float32_learning_rate:
        default = inspect.signature(make).parameters["learning_rate"].default
        settings["learning_rate"] = float(np.float32(settings.get("learning_rate", default)))
    return make(**settings)


def resolve(path: str) -> Any:
    """``"optax.contrib.muon"`` -> the object, importing its module (lazily)."""
    if path.startswith("keras."):
        crosscheck.import_keras()
    module_name, _, name = path.rpartition(".")
    if module_name == "reference":
        return getattr(reference, name)
    module = importlib.import_module(module_name)
    return getattr(module, name)


def build_other(row: Equivalence) -> crosscheck.Adapter:
    """The other side of ``row``, ready for :func:`jaxopt_lab.crosscheck.measures.compare`."""
    if row.other is None:
        raise ValueError(f"{row.library} has no counterpart of {row.optimizer}: {row.note}")
    target = resolve(row.other)
    if row.library == "tutorial":
        return crosscheck.ReferenceAdapter(target(**row.other_settings))
    if row.library == "optax":
        return crosscheck.OptaxAdapter(target(**row.other_settings))
    if row.library == "torch":
        return crosscheck.TorchAdapter(target, **row.other_settings)
    if row.library == "keras":
        return crosscheck.KerasAdapter(target(**row.other_settings))
    raise ValueError(f"unknown library {row.library!r}")


# --------------------------------------------------------------------------- judging


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """One row of the table, run in one dtype, and its verdict."""

    row: Equivalence
    dtype: np.dtype
    comparison: crosscheck.Comparison
    failure: str | None

    @property
    def passed(self) -> bool:
        return self.failure is None

    @property
    def verdict(self) -> str:
        if not self.passed:
            return "FAIL"
        return "agree" if self.row.agrees else "differ (documented)"


def table_params(
    seed: int = 0, *, complex_params: bool = False, shapes: dict | None = None
) -> dict[str, np.ndarray]:
    """The params every row starts from: a small dense layer, N(0, 1), float64 (or complex128).

    ``shapes`` replaces the dense layer's (``{"w": (8, 16), "b": (16,)}``).
    """
    rng = np.random.default_rng(seed)
    shapes = shapes or {"w": (8, 16), "b": (16,)}
    if complex_params:
        return {
            key: (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)
            for key, shape in shapes.items()
        }
    return {key: rng.standard_normal(shape) for key, shape in shapes.items()}


def table_gradients(
    steps: int, seed: int = 0, *, complex_params: bool = False, shapes: dict | None = None
) -> dict:
    """The fixed gradient sequence of every row: N(0, 1) (complex: each part N(0, 1/2))."""
    params = table_params(seed, complex_params=complex_params, shapes=shapes)
    gradients = crosscheck.random_gradients(params, steps, seed=seed + 1)
    if complex_params:
        imaginary = crosscheck.random_gradients(params, steps, seed=seed + 2)
        gradients = {key: (gradients[key] + 1j * imaginary[key]) / np.sqrt(2) for key in gradients}
    return gradients


def run_dtype(row: Equivalence, dtype: Any) -> np.dtype:
    """The dtype a row runs in: ``dtype``, or its complex counterpart for complex rows."""
    dtype = np.dtype(dtype)
    return np.result_type(dtype, np.complex64) if row.complex_params else dtype


def other_trajectory(
    row: Equivalence, dtype: Any, steps: int, seed: int = 0, *, updates: bool = False
) -> Any:
    """The other side's params after each step (see :func:`jaxopt_lab.crosscheck.trajectory`;
    ``updates``: its updates too, for :attr:`~jaxopt_lab.crosscheck.Comparison.max_update_ulps`)."""
    params = table_params(seed, complex_params=row.complex_params, shapes=row.param_shapes)
    gradients = table_gradients(
        steps, seed, complex_params=row.complex_params, shapes=row.param_shapes
    )
    return crosscheck.trajectory(
        build_other(row), params, gradients, steps, dtype=run_dtype(row, dtype), updates=updates
    )


def judge(row: Equivalence, comparison: crosscheck.Comparison) -> str | None:
    """Why ``comparison`` breaks ``row``'s bound, or ``None`` if it keeps it."""
    if not row.agrees:
        if comparison.first_nonfinite_step is not None:
            lab = jax.tree.leaves(comparison.final_a)
            if row.other_diverges and all(np.all(np.isfinite(leaf)) for leaf in lab):
                return None  # the other side diverged, as its note says (and a test checks)
            return (
                f"params became non-finite at step {comparison.first_nonfinite_step}: a "
                "documented difference must stay finite"
            )
        largest = float(np.max(comparison.max_rel_error))
        if row.differs_below is not None and not largest <= row.differs_below:
            step = int(np.argmax(comparison.max_rel_error)) + 1
            return (
                f"expected the two to differ by at most {row.differs_below:g} (relative "
                f"error), got {largest:.3g} at step {step}"
            )
        final = comparison.max_rel_error[-1]
        if np.dtype(comparison.dtype).itemsize < 8 or final > row.differs_above:
            # A difference is judged in float64 (or wider); in float32 it is reported only.
            return None
        return (
            f"expected the two to differ (relative error > {row.differs_above:g}), got {final:.3g}"
        )
    per_step = row.ulps_per_step
    if row.float64_ulps_per_step and np.finfo(comparison.dtype).bits >= 64:
        per_step = row.float64_ulps_per_step
    return crosscheck.tolerance_failure(comparison, ulps=FLAT_ULPS, ulps_per_step=per_step or None)


def check_row(
    row: Equivalence,
    dtype: Any,
    steps: int = STEPS,
    seed: int = 0,
    *,
    lab: optax.GradientTransformation | crosscheck.Trajectory | None = None,
    other: crosscheck.Trajectory | None = None,
    jit: bool = True,
    updates: bool = False,
) -> CheckResult:
    """Run one row of the table over ``steps`` fixed gradients and judge it.

    Args:
      row: the row.
      dtype: float32 or float64 (complex rows run in complex64 or complex128).
      steps: how many steps.
      seed: the seed of the params and gradients.
      lab: another lab side (the sensitivity test's perturbed settings), or
        its trajectory of at least ``steps`` steps; default :func:`build_lab`.
      other: the other side's trajectory of at least ``steps`` steps, as
        :func:`other_trajectory` returns it (to run it once for several lab
        sides); default: run it here.
      jit: compile the lab side (False runs it op by op: no compile, slower
        per step; for short runs).
      updates: also measure both sides' updates, step by step (the second
        measure, :attr:`~jaxopt_lab.crosscheck.Comparison.max_update_ulps`; reported,
        not judged).
    """
    dtype = run_dtype(row, dtype)
    if not isinstance(lab, crosscheck.Trajectory):
        lab = lab_trajectory(row, dtype, steps, seed, lab=lab, jit=jit, updates=updates)
    if other is None:
        other = other_trajectory(row, dtype, steps, seed, updates=updates)
    comparison = crosscheck.measure(
        crosscheck.first_steps(lab, steps), crosscheck.first_steps(other, steps)
    )
    return CheckResult(row, np.dtype(dtype), comparison, judge(row, comparison))


def lab_trajectory(
    row: Equivalence,
    dtype: Any,
    steps: int,
    seed: int = 0,
    *,
    lab: optax.GradientTransformation | None = None,
    jit: bool = True,
    updates: bool = False,
) -> crosscheck.Trajectory:
    """The lab side's params (and ``updates``) after each step (``lab``, or the row's own
    settings)."""
    params = table_params(seed, complex_params=row.complex_params, shapes=row.param_shapes)
    gradients = table_gradients(
        steps, seed, complex_params=row.complex_params, shapes=row.param_shapes
    )
    lab = build_lab(row) if lab is None else lab
    return crosscheck.trajectory(
        crosscheck.OptaxAdapter(lab, jit=jit),
        params,
        gradients,
        steps,
        dtype=run_dtype(row, dtype),
        updates=updates,
    )


def lab_defaults(row: Equivalence) -> dict[str, Any]:
    """The lab optimizer's full settings in ``row``: its defaults, overridden by the row's."""
    parameters = inspect.signature(optimizers.OPTIMIZERS[row.optimizer]).parameters
    defaults = {name: parameter.default for name, parameter in parameters.items()}
    return {**defaults, **row.lab_settings}


EPS_SWITCHES = ("eps_in_sqrt", "eps_hat", "eps_in_max")
"""Lab switches that move eps (inside or outside a root, a max, the bias correction)."""


def perturbations(row: Equivalence) -> list[tuple[str, dict[str, Any]]]:
    """Wrong lab settings that the row's check must catch: ``(what, changes)`` pairs.

    Each is a small change of the row's lab settings (``changes`` for
    :func:`build_lab`): the learning rate times (1 + 1e-5), and times
    (1 + 1e-3) (a change float32 resolves over a few steps); every eps times
    10, and times 2; every switch that moves eps flipped; where a weight decay is set, the
    decay times (1 + 1e-3) and coupled instead of decoupled (or the reverse;
    not for plain SGD, where the two are one formula); AMSGrad's max taken in
    the other place; NAdam's momentum schedule doubled. A change the lab
    refuses (eps_hat with AMSGrad's corrected maximum) is left out. A row that passes
    with any of them would be passing by being loose.
    """
    settings = lab_defaults(row)
    changes: list[tuple[str, dict[str, Any]]] = []
    learning_rate = settings.get("learning_rate")
    if isinstance(learning_rate, (int, float)):
        changes.append(("learning rate x(1 + 1e-5)", {"learning_rate": learning_rate * (1 + 1e-5)}))
        changes.append(("learning rate x(1 + 1e-3)", {"learning_rate": learning_rate * (1 + 1e-3)}))
    for name in ("eps", "eps_root"):
        value = settings.get(name)
        if isinstance(value, (int, float)) and value > 0:
            changes.append((f"{name} x10", {name: value * 10}))
            changes.append((f"{name} x2", {name: value * 2}))
    for name in EPS_SWITCHES:
        if isinstance(settings.get(name), bool):
            changes.append((f"{name} flipped", {name: not settings[name]}))
    weight_decay = settings.get("weight_decay")
    if isinstance(weight_decay, (int, float)) and weight_decay > 0:
        changes.append(("weight decay x(1 + 1e-3)", {"weight_decay": weight_decay * (1 + 1e-3)}))
        if row.optimizer == "sgd":
            pass  # without state, g + wd·p and the decay beside the step are one formula
        elif "decoupled_weight_decay" in settings:
            flipped = not settings["decoupled_weight_decay"]
            changes.append(("weight decay order flipped", {"decoupled_weight_decay": flipped}))
        elif row.optimizer.endswith("w") and row.optimizer[:-1] in optimizers.OPTIMIZERS:
            coupled = {"optimizer": row.optimizer[:-1], "weight_decay": weight_decay}
            changes.append(("weight decay coupled", coupled))
    if isinstance(settings.get("max_of"), str) and settings.get("bias_correction", True):
        # (without bias correction the two maxima are one)
        other = {"raw": "corrected", "corrected": "raw"}.get(settings["max_of"])
        if other:
            changes.append((f"max of the {other} second moment", {"max_of": other}))
    momentum_decay = settings.get("momentum_decay", None)
    if isinstance(momentum_decay, (int, float)):
        changes.append(("momentum_decay x2", {"momentum_decay": momentum_decay * 2}))
    changes = [(what, change) for what, change in changes if what not in row.blind_to]
    changes += list(row.perturbations)
    return [(what, change) for what, change in changes if _accepted(row, change)]


def _accepted(row: Equivalence, change: dict[str, Any]) -> bool:
    """Whether the lab accepts the changed settings (a flip may make a combination it refuses)."""
    try:
        build_lab(row, **change)
    except ValueError:
        return False
    return True
