"""One grammar for choosing optimizers and settings, in every subcommand and in run configs.

An optimizer is written ``NAME`` or ``NAME:SETTINGS``, SETTINGS a comma-separated
list of ``KEY=VALUE`` (a hyperparameter the optimizer declares with
``@hyperparameters``) where a bare leading number is the learning rate::

    adam                      the subcommand's default for adam
    adam:0.003                learning_rate=0.003
    adam:0.003,b1=0.8         learning_rate=0.003, b1=0.8
    momentum:momentum=0.5     the default learning rate, momentum 0.5

A swept setting (``--param``) is ``NAME=LOW:HIGH:COUNT[:log|:lin]``,
``NAME=V1,V2,...`` or ``NAME=V``. Both raise ``ValueError`` with a one-line
message naming what is wrong and what is valid, echoing at most
:data:`MAX_ECHO` characters of the text (``tests/test_fuzz_grammars.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optax

from jaxopt_lab.grid import hyperparameter_names
from jaxopt_lab.optimizers import OPTIMIZERS

OPTIMIZER_FORM = "NAME[:LR][,KEY=VALUE...]"
GRID_FORMS = "NAME=LOW:HIGH:COUNT[:log|:lin], NAME=V1,V2,... or NAME=V"


MAX_ECHO = 200
"""An error message echoes at most this many characters of the text it refuses."""


def shown(text: str) -> str:
    """``repr(text)``, cut to :data:`MAX_ECHO` characters with its length said."""
    if len(text) <= MAX_ECHO:
        return repr(text)
    return f"{text[:MAX_ECHO]!r}... ({len(text):,} characters)"


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what}: {shown(text)} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{what}: {shown(text)} is not a finite number")
    return value


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
        settings[key] = _number(value, f"{shown(text)}")
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


MAX_AXIS_POINTS = 10**9
MAX_NAME = 100
"""A swept hyperparameter's name is at most this long (the longest is 16 characters)."""
BLOCKWISE_ABOVE = 1 << 22
"""Ranges of more points are computed block by block straight into float32 (4 bytes a point,
where ``numpy.geomspace`` would hold several float64 temporaries of the whole range)."""


def _blockwise_range(low: float, high: float, count: int, log: bool) -> np.ndarray:
    values = np.empty(count, np.float32)
    first, last = (math.log10(low), math.log10(high)) if log else (low, high)
    step = (last - first) / (count - 1)
    block = 1 << 20
    for begin in range(0, count, block):
        index = np.arange(begin, min(begin + block, count), dtype=np.float64)
        chunk = first + step * index
        values[begin : begin + len(index)] = 10.0**chunk if log else chunk
    values[0], values[-1] = low, high  # exact ends, as numpy sets them
    return values


def parse_grid_axis(text: str) -> tuple[str, np.ndarray]:
    """``"learning_rate=1e-4:10:1000:log"`` -> ``("learning_rate", values)``.

    Forms: ``NAME=LOW:HIGH:COUNT[:log|:lin]`` (default lin), ``NAME=V1,V2,...``
    and ``NAME=V``. The name is checked against an optimizer by the caller.
    """
    name, equals, body = text.partition("=")
    if not equals or not name.isidentifier() or not body:
        raise ValueError(f"malformed --param {shown(text)}; expected {GRID_FORMS}")
    if len(name) > MAX_NAME:
        raise ValueError(f"--param {shown(text)}: NAME is longer than {MAX_NAME} characters")
    if ":" in body:
        parts = body.split(":")
        scale = parts[3] if len(parts) == 4 else "lin"
        if len(parts) not in (3, 4) or scale not in ("log", "lin"):
            raise ValueError(f"malformed --param {shown(text)}; expected {GRID_FORMS}")
        low = _number(parts[0], f"--param {shown(text)}")
        high = _number(parts[1], f"--param {shown(text)}")
        try:
            count = int(parts[2])
        except ValueError:
            raise ValueError(f"malformed --param {shown(text)}; expected {GRID_FORMS}") from None
        if not 1 <= count <= MAX_AXIS_POINTS:
            raise ValueError(
                f"--param {shown(text)}: COUNT must be in [1, {MAX_AXIS_POINTS:.0e}]"
            )
        if scale == "log" and (low <= 0 or high <= 0):
            raise ValueError(f"--param {shown(text)}: a log range needs LOW, HIGH > 0")
        if count > BLOCKWISE_ABOVE:
            return name, _blockwise_range(low, high, count, scale == "log")
        if scale == "log":
            return name, np.geomspace(low, high, count)
        return name, np.linspace(low, high, count)
    what = f"--param {shown(text)}"
    return name, np.array([_number(part, what) for part in body.split(",")])
