"""The schemas of a run folder's files, checked before a reader draws anything from them.

A folder given to ``jaxopt-lab explore --run`` may hold anything: a ``losses.json``
with an integer label, losses as a string, lists nested ten thousand deep, a
``sweep.json`` with empty axes. :func:`read_json` reads such a file (a regular file of at
most :data:`MAX_RUN_FILE_BYTES`, checked against the folder's ``result.json`` by
:func:`jaxopt_lab.files.read_result_file`) as strict JSON; :func:`check_losses_summary` and
:func:`check_mnist_sweep` check it against the schema that :mod:`jaxopt_lab.runs.training`
and :mod:`jaxopt_lab.runs.outputs` write, or raise :class:`RunFileError`: one line naming
the file and the field. A leaderboard's ``summary.json`` and ``curves.parquet``
(:mod:`jaxopt_lab.runs.leaderboard_folder`) are checked by :func:`check_leaderboard_summary`
and read by :func:`read_leaderboard_curves`.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

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


DIRECTIONS = ("maximize", "minimize")
CURVE_COLUMNS = ("optimizer", "workload", "study", "trial", "step", "validation_metric")


def _check_names(values: Any, path: Path, field: str) -> list[str]:
    _check(
        isinstance(values, list)
        and 0 < len(values) <= MAX_LABELS
        and all(isinstance(v, str) and 0 < len(v) <= MAX_LABEL_CHARS for v in values)
        and len(set(values)) == len(values),
        path,
        field,
        f"a list of 1 to {MAX_LABELS} distinct names of 1 to {MAX_LABEL_CHARS} characters",
    )
    return values


def _check_table(record: dict, key: str, rows: list[str], columns: list[str], path: Path,
                 valid: Any, expected: str) -> None:  # fmt: skip
    """``record[key]`` is ``{row: {column: value}}`` over exactly ``rows`` x ``columns``."""
    table = record.get(key)
    _check(
        isinstance(table, dict)
        and set(table) == set(rows)
        and all(isinstance(table[row], dict) and set(table[row]) == set(columns) for row in rows),
        path,
        f"{key!r}",
        f"an object of one object per optimizer, each with {', '.join(columns):.200}",
    )
    for row in rows:
        for column in columns:
            _check(valid(table[row][column]), path, f"{key!r} of {row!r:.40}", expected)


def _is_time(value: Any) -> bool:
    return value is None or (_is_number_or_null(value) and value > 0)


def _check_cell(cell: Any, path: Path, optimizers: list[str], workloads: list[str]) -> None:
    _check(isinstance(cell, dict), path, "each of 'cells'", "an object")
    _check(cell.get("optimizer") in optimizers and cell.get("workload") in workloads, path,
           "each cell's 'optimizer' and 'workload'", "among the config's")  # fmt: skip
    name = f"the cell {cell['optimizer']!r:.40} on {cell['workload']!r:.40}"
    target = cell.get("target")
    _check(type(target) in (int, float) and math.isfinite(target), path, f"{name}: 'target'",
           "a finite number")  # fmt: skip
    _check(cell.get("direction") in DIRECTIONS, path, f"{name}: 'direction'",
           f"one of {', '.join(DIRECTIONS)}")  # fmt: skip
    studies = cell.get("studies")
    _check(isinstance(studies, list) and 0 < len(studies) <= MAX_LABELS, path,
           f"{name}: 'studies'", f"a list of 1 to {MAX_LABELS} studies")  # fmt: skip
    for study in studies:
        _check(
            isinstance(study, dict)
            and _is_int(study.get("study"))
            and (study.get("trial") is None or _is_int(study.get("trial")))
            and _is_time(study.get("steps_to_target")),
            path,
            f"{name}: each study",
            "{study: integer >= 0, trial: integer >= 0 or null, steps_to_target: a positive "
            "number or null}",
        )
    _check(len({study["study"] for study in studies}) == len(studies), path,
           f"{name}: 'studies'", "each study listed once")  # fmt: skip


def check_leaderboard_summary(summary: Any, path: Path) -> dict:
    """``summary`` if it has the schema of a leaderboard's ``summary.json``
    (:class:`jaxopt_lab.runs.leaderboard_folder.LeaderboardRun`), as far as a reader uses it:
    the config's optimizers and workloads, the scores (in [0, 1]), both time tables
    (positive, ``null`` for a miss), one cell per optimizer and workload, and optionally each
    workload's metric name."""
    _check(isinstance(summary, dict), path, "the file", "a JSON object")
    config = summary.get("config")
    _check(isinstance(config, dict), path, "'config'", "an object")
    optimizers = _check_names(config.get("optimizers"), path, "'optimizers' of 'config'")
    workloads = _check_names(config.get("workloads"), path, "'workloads' of 'config'")
    _check_table(summary, "scores", optimizers, ["score_steps", "score_seconds"], path,
                 lambda v: _is_number_or_null(v) and v is not None and 0 <= v <= 1,
                 "scores between 0 and 1")  # fmt: skip
    for key in ("steps_to_target", "seconds_to_target"):
        _check_table(summary, key, optimizers, workloads, path, _is_time,
                     "a positive number or null (a miss) per workload")  # fmt: skip
    cells = summary.get("cells")
    _check(isinstance(cells, list), path, "'cells'", "a list")
    for cell in cells:
        _check_cell(cell, path, optimizers, workloads)
    pairs = {(cell["optimizer"], cell["workload"]) for cell in cells}
    _check(len(pairs) == len(cells) == len(optimizers) * len(workloads), path, "'cells'",
           "one cell per optimizer and workload")  # fmt: skip
    if "workloads" in summary:
        described = summary["workloads"]
        _check(
            isinstance(described, dict)
            and set(described) == set(workloads)
            and all(
                isinstance(entry, dict)
                and isinstance(entry.get("metric"), str)
                and 0 < len(entry["metric"]) <= MAX_LABEL_CHARS
                for entry in described.values()
            ),
            path,
            "'workloads'",
            "an object of one {metric: a name} per workload of 'config'",
        )
    return summary


def read_leaderboard_curves(path: Path, summary: dict) -> pd.DataFrame:
    """A leaderboard's ``curves.parquet``, read within the bounds of the module doc: the
    columns ``CURVE_COLUMNS`` (names as strings, study, trial and step as integers, the
    metric as numbers), with rows for every cell of ``summary`` (checked first)."""
    try:
        data = read_result_file(path, MAX_RUN_FILE_BYTES)
    except MixedResultError as error:
        raise RunFileError(str(error)) from None
    except OSError as error:
        raise RunFileError(f"cannot read {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise RunFileError(f"cannot read {path}: {error!s:.200}") from None
    try:
        curves = pd.read_parquet(io.BytesIO(data))
    except Exception as error:  # noqa: BLE001 - any failure to parse the file is one line
        raise RunFileError(f"cannot read {path} as Parquet: {error!s:.200}") from None
    missing = [name for name in CURVE_COLUMNS if name not in curves.columns]
    _check(not missing, path, "the columns", f"{', '.join(CURVE_COLUMNS)} (missing "
           f"{', '.join(missing)})")  # fmt: skip
    kinds = {"optimizer": "OSU", "workload": "OSU", "study": "iu", "trial": "iu", "step": "iu",
             "validation_metric": "fiu"}  # fmt: skip
    for name, kind in kinds.items():
        column = curves[name]
        ok = column.dtype.kind in kind
        if ok and kind == "OSU":
            ok = bool(column.map(lambda v: isinstance(v, str)).all())
        _check(ok, path, f"column {name!r}", "names" if kind == "OSU" else "numbers")
    present = set(zip(curves["optimizer"], curves["workload"], strict=True))
    for cell in summary["cells"]:
        _check((cell["optimizer"], cell["workload"]) in present, path, "the rows",
               f"curves of every cell of the summary (none for {cell['optimizer']!r:.40} on "
               f"{cell['workload']!r:.40})")  # fmt: skip
    return curves
