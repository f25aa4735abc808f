"""One grammar for choosing optimizers and settings, in every subcommand and in run configs.

An optimizer is written ``NAME`` or ``NAME:SETTINGS``, SETTINGS a comma-separated
list of ``KEY=VALUE`` (a hyperparameter the optimizer declares with
``@hyperparameters``) where a bare leading number is the learning rate::

    adam                      the subcommand's default for adam
    adam:0.003                learning_rate=0.003
    adam:0.003,b1=0.8         learning_rate=0.003, b1=0.8
    momentum:momentum=0.5     the default learning rate, momentum 0.5

A bad one raises ``ValueError`` with a one-line message naming what is wrong
and what is valid, echoing at most :data:`~jaxopt_lab.grid.MAX_ECHO` characters of the text.
A swept setting (``--param``) is parsed by :func:`jaxopt_lab.grid.parse_grid_axis`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import optax

from jaxopt_lab.grid import MAX_ECHO, hyperparameter_names, parse_number, shown
from jaxopt_lab.optimizers import OPTIMIZERS

OPTIMIZER_FORM = "NAME[:LR][,KEY=VALUE...]"


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer by name with some hyperparameters set; ``label`` is how it was written."""

    name: str
    settings: Mapping[str, float] = field(default_factory=dict)
    label: str = ""

    def build(self, **defaults: float) -> optax.GradientTransformation:
        """``OPTIMIZERS[name](**defaults, **settings)``; raises ``ValueError`` for bad values."""
        return OPTIMIZERS[self.name](**{**defaults, **self.settings})

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "name": self.name, "settings": dict(self.settings)}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> OptimizerSpec:
        return cls(record["name"], dict(record["settings"]), record["label"])


def parse_optimizer(text: str) -> OptimizerSpec:
    """``"adam:0.003,b1=0.8"`` -> ``OptimizerSpec("adam", {"learning_rate": 0.003, "b1": 0.8})``.

    The settings are checked against the optimizer's declared hyperparameters
    and by building it once (so a negative learning rate is refused here).
    """
    text = text.strip()
    name, colon, rest = text.partition(":")
    if name not in OPTIMIZERS:
        where = "" if text == name or len(text) > MAX_ECHO else f" in {shown(text)}"
        raise ValueError(
            f"unknown optimizer {shown(name)}{where}; valid optimizers: {', '.join(OPTIMIZERS)}"
        )
    valid = hyperparameter_names(name)
    settings: dict[str, float] = {}
    if colon and not rest:
        raise ValueError(f"{shown(text)}: nothing after ':'; expected {OPTIMIZER_FORM}")
    for position, item in enumerate(rest.split(",") if rest else []):
        key, equals, value = item.strip().partition("=")
        if not equals:
            if position != 0:
                raise ValueError(
                    f"{shown(text)}: {shown(item)} needs KEY=VALUE; expected {OPTIMIZER_FORM}"
                )
            key, value = "learning_rate", key
        if key not in valid:
            raise ValueError(
                f"{shown(text)}: {name} has no hyperparameter {shown(key)}; "
                f"valid: {', '.join(valid)}"
            )
        if key in settings:
            raise ValueError(f"{shown(text)}: {key} is given twice")
        settings[key] = parse_number(value, shown(text))
    spec = OptimizerSpec(name, settings, text)
    try:
        spec.build()
    except (TypeError, ValueError) as error:
        raise ValueError(f"{shown(text)}: {error}") from None
    return spec


def parse_optimizers(texts: list[str] | tuple[str, ...]) -> tuple[OptimizerSpec, ...]:
    """Several optimizers; the same one written twice is refused."""
    specs = tuple(parse_optimizer(text) for text in texts)
    labels = [spec.label for spec in specs]
    for label in labels:
        if labels.count(label) > 1:
            raise ValueError(f"optimizer {label!r} is listed twice")
    return specs
