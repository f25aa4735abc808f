"""``jaxopt-lab port --emit optax``: the ported recipe as plain optax, where the table says so.

    form = optax_form(recipe)
    form.recipe     # a Recipe that imports only optax, or None
    form.lines()    # which table rows make it exact, or which setting needs the lab and why

Each lab optimizer call of a port's recipe (``jaxopt_lab.adam(lr, b1=..,
eps_hat=False)``) is replaced by the optax function of an equivalence-table
row (:mod:`jaxopt_lab.equivalences`) that agrees with it, when the call's
conventions (``eps_hat``, ``eps_in_sqrt``, ``max_of``, ``momentum_decay=None``,
...) are the row's and every hyperparameter it sets is one the optax
function takes by the same name. The port's own pieces become optax where
optax computes the same thing (``port.param_groups`` is ``optax.partition``,
``port.clip_grad_value`` and ``port.keras_clipvalue`` are ``optax.clip``;
torch's AdamW, Adam then its decoupled decay, is ``optax.adamw`` by the table's
AdamW rows). Anything else
keeps the lab, with the reason: the row's note where the table has one,
else what torch computes that optax does not. The caller measures the
result against the library (``jaxopt-lab port`` does, step by step).
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

from jaxopt_lab.port.recipe import Call, Recipe, Ref, call

PORT_REASONS = {
    "port.clip_grad_norm": "torch's clip_grad_norm_ divides by (norm + 1e-6) and scales even "
    "below the threshold; optax.clip_by_global_norm does neither (the port's conventions table "
    "measures the difference)",
    "port.torch_schedule": "torch's scheduler is recursive arithmetic in float64 (lr *= factor "
    "each step), not an optax schedule's closed form: the lab tabulates torch's own values",
    "port.scheduled": "a scheduled hyperparameter is injected as a Python number, which "
    "optax.inject_hyperparams cannot do for static arguments (optax#1532)",
    "port.torch_dampening": "optax.sgd has no dampening (torch's first buffer is undamped)",
    "port.torch_decoupled_weight_decay": "torch applies the decay as its own update of p "
    "(p *= 1 - lr*wd) before the step, and optax has no such transformation on its own",
    "port.keras_schedules": "Keras's schedules compute in float32 in their own order; optax's "
    "are not the same floats",
    "port.keras_clipnorm": "Keras clips each variable's gradient to its own norm "
    "(g * c / max(|g|, c)); optax clips by the global norm only",
    "port.keras_global_clipnorm": "Keras scales by c / max(norm, c) always; "
    "optax.clip_by_global_norm scales only above the threshold, by c / norm",
}
"""Why a port helper has no optax form, where the table has no row for it."""


@dataclasses.dataclass(frozen=True)
class OptaxForm:
    """The optax-only recipe (None if some setting needs the lab), the table rows that make
    it exact, and the reasons the lab is needed."""

    recipe: Recipe | None
    rows: tuple[str, ...]
    reasons: tuple[str, ...]

    def lines(self) -> tuple[str, ...]:
        if self.recipe is not None:
            why = (
                "exact per the equivalence table: " + "; ".join(self.rows)
                if self.rows
                else "the port's own code for it is optax already"
            )
            return (
                "--emit optax: plain optax, no lab import; " + why,
                "the agreement above is the emitted optax code's, measured against the library",
            )
        return (
            "--emit optax: no exact optax form; the code above is the lab's. Needs the lab: "
            + " | ".join(self.reasons),
        )


def _equivalences() -> tuple:
    from jaxopt_lab import equivalences

    return equivalences.EQUIVALENCES


def _convention(value: Any) -> bool:
    """A setting that chooses a formula (a flag, a name, None), not a number to pass on."""
    return value is None or isinstance(value, (bool, str))


def _defaults(function: Any) -> dict[str, Any]:
    return {
        name: parameter.default
        for name, parameter in inspect.signature(function).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }


def _lab_settings(node: Call) -> tuple[str, dict[str, Any]]:
    name = node.function.path.split(".", 1)[1]
    import jaxopt_lab

    function = getattr(jaxopt_lab, name)
    bound = inspect.signature(function).bind_partial(*node.args, **dict(node.kwargs))
    return name, dict(bound.arguments)


ROUNDING_KNOBS = {"bias_correction": "float32", "moment_form": "weighted_sum"}
"""Lab settings (and the value) that choose only how a formula rounds, as optax does, bit for
bit: a row may set them and still cover a port that leaves them at the lab's default, since
the emitted optax code is measured against the library in any case. (``bias_correction=False``
is another formula, not a rounding.)"""


def _mismatch(
    row: Any, settings: dict[str, Any], lab_defaults: dict[str, Any], optax_parameters: set[str]
) -> str | None:
    """Why ``row`` does not cover these lab settings, or None if it does."""
    for key, value in row.lab_settings.items():
        if key in ROUNDING_KNOBS and ROUNDING_KNOBS[key] == value:
            continue
        if _convention(value) and settings.get(key, lab_defaults.get(key)) != value:
            return f"{key}={value!r} (this port needs {settings.get(key, lab_defaults.get(key))!r})"
    for key, value in settings.items():
        if key == "learning_rate" or key in row.lab_settings:
            continue
        if _convention(value):
            if value != lab_defaults.get(key):
                return f"{key}={value!r} (no optax row covers it)"
        elif key not in optax_parameters and value != lab_defaults.get(key):
            return f"{key}={value!r} (the optax function has no {key})"
    for key in settings:
        if (
            key in row.lab_settings
            and not _convention(row.lab_settings[key])
            and key != "learning_rate"
            and key not in optax_parameters
        ):
            return f"{key} (optax names it otherwise)"
    return None


def _optax_call(row: Any, settings: dict[str, Any], lab_defaults: dict[str, Any]) -> Call:
    optax_function = Ref(row.other).resolve()
    optax_defaults = _defaults(optax_function)
    parameters = set(inspect.signature(optax_function).parameters)
    kwargs = {k: v for k, v in row.other_settings.items() if _convention(v) and k in parameters}
    for key in parameters - {"learning_rate"}:
        if key in kwargs or key not in lab_defaults and key not in settings:
            continue
        value = settings.get(key, lab_defaults.get(key))
        if _convention(value) or value is inspect.Parameter.empty:
            continue
        if key in settings or value != optax_defaults.get(key):
            kwargs[key] = value
    learning_rate = settings.get("learning_rate", lab_defaults.get("learning_rate"))
    return call(row.other, learning_rate, **dict(sorted(kwargs.items())))


def _row_name(row: Any) -> str:
    bound = f"{row.ulps_per_step:g} ulp/step" if row.ulps_per_step else "flat"
    return f"{row.optimizer} = {row.other} ({row.label}, {bound})"


class _Converter:
    def __init__(self):
        self.rows: list[str] = []
        self.reasons: list[str] = []

    def lab_call(
        self, node: Call, settings_override: dict | None = None, name_override: str | None = None
    ) -> Any:
        import jaxopt_lab

        name, settings = _lab_settings(node)
        if name_override is not None:
            name = name_override
            settings = {**settings, **(settings_override or {})}
        lab_defaults = _defaults(getattr(jaxopt_lab, name))
        if any(isinstance(value, (Call, Ref)) or not _plain(value) for value in settings.values()):
            self.reasons.append(
                f"jaxopt_lab.{name}: its hyperparameters follow the ported schedule"
            )
            return node
        rows = [
            row
            for row in _equivalences()
            if row.optimizer == name and row.library == "optax" and not row.complex_params
        ]
        why, notes = [], []
        for row in rows:
            if not row.agrees:
                why.append(f"the table documents {row.other} as differing")
                notes.append(row.note)
                continue
            parameters = set(inspect.signature(Ref(row.other).resolve()).parameters)
            mismatch = _mismatch(row, settings, lab_defaults, parameters)
            if mismatch is None:
                self.rows.append(_row_name(row))
                return _optax_call(row, settings, lab_defaults)
            why.append(f"{row.other} equals it only where {mismatch}")
            notes.append(row.note)
        if not rows:
            why.append("the table has no optax row for it")
        reason = "; ".join(dict.fromkeys(why))
        notes = " ".join(dict.fromkeys(note for note in notes if note))
        self.reasons.append(
            f"jaxopt_lab.{name}: {reason}" + (f" (the table: {notes})" if notes else "")
        )
        return node

    def convert(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.convert(item) for item in node]
        if isinstance(node, tuple):
            return tuple(self.convert(item) for item in node)
        if isinstance(node, dict):
            return {key: self.convert(value) for key, value in node.items()}
        if not isinstance(node, Call) or not isinstance(node.function, Ref):
            return node
        path = node.function.path
        if path == "optax.chain":
            adamw = self.torch_adamw(node)
            if adamw is not None:
                return adamw
        if path.startswith("jaxopt_lab.") and path.count(".") == 1:
            return self.lab_call(node)
        if path == "port.param_groups":
            transforms, group_of = node.args
            return call("optax.partition", dict(enumerate(self.convert(transforms))), group_of)
        if path in ("port.clip_grad_value", "port.keras_clipvalue"):  # both are jnp.clip
            return call("optax.clip", *node.args)
        if path.startswith(("port.", "jaxopt_lab.")):
            key = next((k for k in PORT_REASONS if path.startswith(k)), None)
            self.reasons.append(f"{path}: " + (PORT_REASONS[key] if key else "no optax form"))
            return node
        return Call(
            node.function,
            tuple(self.convert(a) for a in node.args),
            tuple((k, self.convert(v)) for k, v in node.kwargs),
        )

    def torch_adamw(self, node: Call) -> Any:
        """torch's AdamW, ``chain(adam(eps_hat=False), torch_decoupled_weight_decay(wd, lr))``,
        is the lab's adamw(eps_hat=False, weight_decay=wd), which the table equals to
        optax.adamw."""
        if len(node.args) != 2:
            return None
        core, decay = node.args
        if not (
            isinstance(core, Call)
            and isinstance(decay, Call)
            and isinstance(core.function, Ref)
            and isinstance(decay.function, Ref)
            and core.function.path == "jaxopt_lab.adam"
            and decay.function.path == "port.torch_decoupled_weight_decay"
        ):
            return None
        weight_decay, learning_rate = decay.args
        _, settings = _lab_settings(core)
        if settings.get("learning_rate") != learning_rate or not _plain(weight_decay):
            return None
        return self.lab_call(core, {"weight_decay": weight_decay}, "adamw")


def _plain(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_plain(item) for item in value)
    return value is None or isinstance(value, (bool, int, float, str))


def optax_form(recipe: Recipe) -> OptaxForm:
    """The recipe with only optax in it, where the equivalence table makes that exact."""
    converter = _Converter()
    assignments = tuple((name, converter.convert(value)) for name, value in recipe.assignments)
    result = converter.convert(recipe.result)
    if converter.reasons:
        return OptaxForm(None, tuple(converter.rows), tuple(dict.fromkeys(converter.reasons)))
    return OptaxForm(
        dataclasses.replace(recipe, assignments=assignments, result=result),
        tuple(dict.fromkeys(converter.rows)),
        (),
    )
