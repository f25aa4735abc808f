"""The schemas of a run folder's files, checked before a reader draws anything from them.

A folder given to ``jaxopt-lab explore --run`` may hold anything: a ``losses.json``
with an integer label, losses as a string, lists nested ten thousand deep, a
``sweep.json`` with empty axes. :func:`read_json` reads such a file (a regular file of at
most :data:`MAX_RUN_FILE_BYTES`, checked against the folder's ``result.json`` by
:func:`jaxopt_lab.files.read_result_file`) as strict JSON; :func:`check_losses_summary` and
:func:`check_mnist_sweep` check it against the schema that :mod:`jaxopt_lab.runs.training`
and :mod:`jaxopt_lab.runs.outputs` write, or raise :class:`RunFileError`: one line naming
the file and the field.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from jaxopt_lab.files import MixedResultError, read_result_file

MAX_RUN_FILE_BYTES = 64 * 2**20
"""A run file above this is refused unread (a 2,000-iteration run of 19 optimizers: 1 MB)."""
MAX_LABELS = 1000
MAX_LABEL_CHARS = 200


class RunFileError(ValueError):
    """A run folder's file is unreadable or does not have the schema the lab writes."""


def _refuse(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def read_json(path: Path) -> Any:
    """A run file as strict JSON (no ``NaN``), read within the bounds of the module doc."""
    try:
        data = read_result_file(path, MAX_RUN_FILE_BYTES)
        return json.loads(data.decode("utf-8"), parse_constant=_refuse)
    except RecursionError:
        raise RunFileError(f"cannot read {path}: it is nested too deeply") from None
    except MixedResultError as error:
        raise RunFileError(str(error)) from None
    except OSError as error:
        raise RunFileError(f"cannot read {path}: {error.strerror or error}") from None
    except ValueError as error:  # not UTF-8, not JSON, not a regular file, too large
        raise RunFileError(f"cannot read {path}: {error!s:.200}") from None


def _is_int(value: Any, low: int = 0) -> bool:
    return type(value) is int and value >= low


def _is_number_or_null(value: Any) -> bool:
    return value is None or (type(value) in (int, float) and math.isfinite(value))


def _check(condition: bool, path: Path, field: str, expected: str) -> None:
    if not condition:
        raise RunFileError(f"{path}: {field} must be {expected}")


def _check_labels(labels: Any, path: Path) -> list[str]:
    _check(
        isinstance(labels, list) and 0 < len(labels) <= MAX_LABELS,
        path,
        "'optimizers'",
        f"a list of 1 to {MAX_LABELS} labels",
    )
    for label in labels:
        _check(
            isinstance(label, str) and 0 < len(label) <= MAX_LABEL_CHARS,
            path,
            "each label in 'optimizers'",
            f"a string of 1 to {MAX_LABEL_CHARS} characters",
        )
    _check(len(set(labels)) == len(labels), path, "'optimizers'", "labels each listed once")
    return labels


def _check_per_label(record: dict, key: str, labels: list[str], path: Path) -> None:
    values = record.get(key)
    _check(
        isinstance(values, dict) and set(values) == set(labels),
        path,
        f"{key!r}",
        "an object with one entry per label of 'optimizers'",
    )
    for label in labels:
        _check(
            _is_number_or_null(values[label]), path, f"{key!r}", "a finite number or null per label"
        )


def check_losses_summary(summary: Any, path: Path) -> dict:
    """``summary`` if it has the schema of the ``losses.json`` a run writes
    (:func:`jaxopt_lab.runs.training.summarize`), as far as a reader uses it."""
    _check(isinstance(summary, dict), path, "the file", "a JSON object")
    labels = _check_labels(summary.get("optimizers"), path)
    for key, low in (("iterations", 1), ("batch_size", 1), ("seed", 0)):
        _check(_is_int(summary.get(key), low), path, f"{key!r}", f"an integer >= {low}")
    if "iterations_done" in summary:
        _check(_is_int(summary["iterations_done"]), path, "'iterations_done'", "an integer >= 0")
    losses = summary.get("losses")
    _check(
        isinstance(losses, dict) and set(losses) == set(labels),
        path,
        "'losses'",
        "an object with one list per label of 'optimizers'",
    )
    for label in labels:
        row = losses[label]
        _check(
            isinstance(row, list) and all(map(_is_number_or_null, row)),
            path,
            f"'losses' of {label!r:.40}",
            "a list of finite numbers or nulls",
        )
    if "final_mean_loss" in summary:
        _check_per_label(summary, "final_mean_loss", labels, path)
        _check_per_label(summary, "test_accuracy", labels, path)
    return summary


def check_mnist_sweep(record: Any, path: Path) -> dict:
    """``record`` if it has the schema of an ``mnist-sweep``'s ``sweep.json``
    (:func:`jaxopt_lab.outputs.write_mnist_sweep`): ``axes`` a swept setting or more,
    then ``seed``; ``final_loss`` and ``test_accuracy`` shaped by the axes."""
    _check(isinstance(record, dict), path, "the file", "a JSON object")
    _check(
        isinstance(record.get("optimizer"), str)
        and 0 < len(record["optimizer"]) <= MAX_LABEL_CHARS,
        path,
        "'optimizer'",
        "a label",
    )
    _check(_is_int(record.get("iterations"), 1), path, "'iterations'", "an integer >= 1")
    axes = record.get("axes")
    _check(
        isinstance(axes, dict) and len(axes) >= 2 and list(axes)[-1] == "seed",
        path,
        "'axes'",
        "an object of one swept setting or more, then 'seed'",
    )
    for name, values in axes.items():
        _check(
            name.isidentifier() and len(name) <= 100,
            path,
            f"axis name {name!r:.40}",
            "a hyperparameter's name",
        )
        _check(
            isinstance(values, list)
            and len(values) > 0
            and all(type(v) in (int, float) and math.isfinite(v) for v in values),
            path,
            f"axis {name!r:.40}",
            "a non-empty list of finite numbers",
        )
    _check(all(_is_int(seed) for seed in axes["seed"]), path, "axis 'seed'", "integers >= 0")
    shape = tuple(len(values) for values in axes.values())
    for key in ("final_loss", "test_accuracy"):
        try:
            array = np.array(record.get(key), dtype=np.float64)  # null -> nan
        except (TypeError, ValueError):
            array = None
        _check(
            array is not None and array.shape == shape,
            path,
            f"{key!r}",
            f"numbers shaped like the axes, {list(shape)}",
        )
    return record
