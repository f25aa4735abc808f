"""The port and the equivalence table state one fact twice: keep them from drifting.

For each library's defaults (the table's ``defaults`` rows against torch and Keras),
the lab settings the port's recipe builds from the live library object must be the
settings of the table's row. The two are written differently where the port must
reproduce the library's order of operations (torch's decoupled decay as its own
update of p, torch's momentum buffer under a schedule); :func:`_port_settings` and
:func:`_table_settings` bring both to one lab optimizer's full settings first, each
rewrite saying why.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest

from jaxopt_lab import equivalences, optimizers
from jaxopt_lab.equivalences import check as table
from jaxopt_lab.port import keras_recipe, torch_recipe
from jaxopt_lab.port.recipe import Call, Ref

ROWS = [
    row
    for row in equivalences.EQUIVALENCES
    if row.label == "defaults"
    and row.library in ("torch", "keras")
    and row.agrees
    and not row.complex_params
    and row.other is not None
]
DECOUPLED = {"adamw": "adam", "nadamw": "nadam"}
"""Lab optimizers that are another with ``decoupled_weight_decay=True``."""


def _calls(node: Any) -> list[Call]:
    """Every call in a recipe expression, outermost first."""
    found = []
    if isinstance(node, Call):
        found.append(node)
        for arg in (node.function, *node.args, *(value for _, value in node.kwargs)):
            found += _calls(arg)
    elif isinstance(node, (list, tuple)):
        for item in node:
            found += _calls(item)
    return found


def _path(call: Call) -> str:
    return call.function.path if isinstance(call.function, Ref) else ""


def _full(name: str, args: tuple, kwargs: dict) -> dict[str, Any]:
    """A lab optimizer's every setting: its defaults, overridden by the call's."""
    bound = inspect.signature(optimizers.OPTIMIZERS[name]).bind(*args, **kwargs)
    bound.apply_defaults()
    settings = dict(bound.arguments)
    if name == "adafactor" and settings["eps1"] is None and not settings["eps1_as_floor"]:
        settings["eps1"] = 1e-30  # eps1=None is the paper's 1e-30 (adafactor's docstring)
    return settings


def _port_settings(row) -> tuple[str, dict[str, Any]]:
    """The lab optimizer and its settings in the port's recipe for the row's library call."""
    target = table.resolve(row.other)
    if row.library == "torch":
        import torch

        recipe = torch_recipe(target([torch.zeros(4, 3)], **row.other_settings))
    else:
        recipe = keras_recipe(target(**row.other_settings))
    calls = _calls(recipe.result)
    lab = [call for call in calls if _path(call).startswith("jaxopt_lab.")]
    if not lab:
        # torch's momentum as optax.sgd (its buffer form, exact under a schedule): the lab's
        # momentum / nesterov with the same learning rate and coefficient.
        (sgd,) = [call for call in calls if _path(call) == "optax.sgd"]
        kwargs = dict(sgd.kwargs)
        name = "nesterov" if kwargs.pop("nesterov") else "momentum"
        return name, _full(name, sgd.args, kwargs)
    name = _path(lab[0]).split(".", 1)[1]  # the core (Keras Muon's second is its Adam group)
    settings = _full(name, lab[0].args, dict(lab[0].kwargs))
    for call in calls:
        # torch's and Keras's decoupled decay, chained as its own update of p in the library's
        # order: the lab optimizer's weight_decay, decoupled.
        if _path(call) in ("port.torch_decoupled_weight_decay", "port.keras_weight_decay"):
            settings.update(weight_decay=call.args[0], decoupled_weight_decay=True)
        # Keras Muon's decay, p -= p*wd*lr first, with adam_weight_decay for the leaves it
        # leaves to Adam: the lab muon's two decays.
        if _path(call) == "port.keras_muon_weight_decay":
            settings.update(weight_decay=call.args[0], adam_weight_decay=call.args[1])
    return name, settings


def _table_settings(row) -> tuple[str, dict[str, Any]]:
    settings = table.lab_defaults(row)
    if row.float32_learning_rate:  # as table.build_lab gives it
        settings["learning_rate"] = float(np.float32(settings["learning_rate"]))
    name = row.optimizer
    if name in DECOUPLED:
        name = DECOUPLED[name]
        settings = {**settings, "decoupled_weight_decay": True}
    return name, _full(name, (), settings)


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_port_and_table_give_the_same_lab_settings(row):
    if row.library == "keras":
        from jaxopt_lab import crosscheck

        crosscheck.import_keras()
    port_name, port_settings = _port_settings(row)
    table_name, table_settings = _table_settings(row)
    assert port_name == table_name
    differing = {
        key: (port_settings[key], table_settings[key])
        for key in port_settings
        if port_settings[key] != table_settings[key]
    }
    assert not differing, f"{row.name}: (port, table) = {differing}"


def test_a_drifted_row_is_caught():
    # The comparison is not blind: a table row one setting away from the port's recipe
    # (torch Adam's eps written as Keras's 1e-7) differs in exactly that setting.
    import dataclasses

    row = next(row for row in ROWS if row.name == "adam-torch-defaults")
    drifted = dataclasses.replace(row, lab_settings={**row.lab_settings, "eps": 1e-7})
    _, port_settings = _port_settings(drifted)
    _, table_settings = _table_settings(drifted)
    differing = {key for key in port_settings if port_settings[key] != table_settings[key]}
    assert differing == {"eps"}
    assert {row.optimizer for row in ROWS if row.library == "torch"} >= {"adam", "sgd", "nadam"}
