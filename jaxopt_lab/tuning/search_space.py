"""Search spaces in AlgoPerf's ``tuning_search_space.json`` format, and their quasirandom points.

A space is either a dict ``{name: {"min": a, "max": b, "scaling": "linear" | "log"}}`` or
``{name: {"feasible_points": [...]}}`` (one entry per hyperparameter), or a list of fixed points
(a list of dicts, one per trial, every dict with the same names).

:func:`search_points` draws the same *set* of points as AlgoPerf's quasirandom search,
``algoperf/halton.py`` ``generate_search(search_space, num_trials)`` in
mlcommons/algorithmic-efficiency (itself after Bousquet et al. 2017, "Critical hyper-parameters:
no random, no cry", arXiv:1706.03200): a Halton sequence whose dimension d is a Van der Corput
sequence in a prime base p_d, with its digits permuted and the whole shifted (modulo 1) by
numbers drawn from ``numpy.random.RandomState(p_d)``, the first 100 points skipped. The bases
are the ``num_dims`` primes just below the largest prime under 1000 (AlgoPerf's choice). A
point u in [0, 1) maps to ``min + u (max - min)`` (linear), ``min exp(u log(max / min))``
(log) or ``feasible_points[floor(u n)]``.

AlgoPerf then shuffles the trials with NumPy's *global* random state; the lab does not touch
global state, so its trials come in sequence order. Only the set of points is AlgoPerf's.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

SKIPPED_POINTS = 100
"""AlgoPerf's ``skip``: the first points of the Halton sequence are dropped (correlations)."""

SCALINGS = ("linear", "log")


class SearchSpaceError(ValueError):
    """A search space, or a number of trials, that cannot be searched; the message names it."""


class Interval(NamedTuple):
    """A continuous hyperparameter: ``min <= x <= max`` on a linear or log scale."""

    min: float
    max: float
    scaling: str


class Choice(NamedTuple):
    """A discrete hyperparameter: one of ``feasible_points``."""

    feasible_points: tuple[float, ...]


Dimension = Interval | Choice
SearchSpace = Mapping[str, Mapping[str, Any]] | Sequence[Mapping[str, Any]]


def _number(name: str, field: str, value: Any) -> float:
    """``value`` as a finite float, or a :class:`SearchSpaceError` naming the hyperparameter."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise SearchSpaceError(f"search space: {name!r}: {field} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise SearchSpaceError(f"search space: {name!r}: {field} must be finite, got {value!r}")
    return float(value)


def _dimension(name: Any, entry: Any) -> Dimension:
    """One entry of a dict space, checked."""
    if not isinstance(name, str) or not name:
        raise SearchSpaceError(f"search space: hyperparameter names are strings, got {name!r}")
    if not isinstance(entry, Mapping):
        raise SearchSpaceError(
            f"search space: {name!r} must be {{min, max, scaling}} or {{feasible_points}}, "
            f"got {entry!r}"
        )
    if "feasible_points" in entry:
        if set(entry) != {"feasible_points"}:
            others = sorted(set(entry) - {"feasible_points"})
            raise SearchSpaceError(f"search space: {name!r} mixes feasible_points with {others}")
        points = entry["feasible_points"]
        if isinstance(points, (str, bytes)) or not isinstance(points, Sequence):
            raise SearchSpaceError(
                f"search space: {name!r}: feasible_points must be a list, got {points!r}"
            )
        if len(points) == 0:
            raise SearchSpaceError(f"search space: {name!r}: feasible_points is empty")
        return Choice(tuple(_number(name, "feasible_points", x) for x in points))
    if set(entry) != {"min", "max", "scaling"}:
        raise SearchSpaceError(
            f"search space: {name!r} needs exactly min, max and scaling (or feasible_points), "
            f"got {sorted(entry)}"
        )
    low, high = _number(name, "min", entry["min"]), _number(name, "max", entry["max"])
    scaling = entry["scaling"]
    if scaling not in SCALINGS:
        raise SearchSpaceError(
            f"search space: {name!r}: unknown scaling {scaling!r} (expected 'linear' or 'log')"
        )
    if low > high:
        raise SearchSpaceError(f"search space: {name!r}: min {low:g} > max {high:g}")
    if scaling == "log" and low <= 0:
        raise SearchSpaceError(f"search space: {name!r}: a log range needs min > 0, got {low:g}")
    return Interval(low, high, scaling)


def _fixed_points(space: Sequence[Any]) -> tuple[dict[str, float], ...]:
    """A list space, checked: non-empty, dicts of numbers, every point with the same names."""
    if len(space) == 0:
        raise SearchSpaceError("search space: the list of points is empty")
    points = []
    for index, point in enumerate(space):
        if not isinstance(point, Mapping) or not point:
            raise SearchSpaceError(
                f"search space: point {index} must be a non-empty dict of hyperparameters, "
                f"got {point!r}"
            )
        if set(point) != set(space[0]):
            raise SearchSpaceError(
                f"search space: point {index} has hyperparameters {sorted(point)}, "
                f"point 0 has {sorted(space[0])}"
            )
        points.append({str(name): _number(name, f"point {index}", x) for name, x in point.items()})
    return tuple(points)


def parse_search_space(space: Any) -> dict[str, Dimension] | tuple[dict[str, float], ...]:
    """``space`` checked: ``{name: Interval | Choice}`` for a dict, the points for a list.

    Raises :class:`SearchSpaceError` (a ``ValueError``) with one line naming the hyperparameter
    for: min > max, a log range with min <= 0, an empty ``feasible_points``, an unknown scaling,
    a non-finite or non-numeric bound or point, an empty space, or a list whose points differ in
    their names.
    """
    if isinstance(space, Mapping):
        if not space:
            raise SearchSpaceError("search space: no hyperparameters (an empty dict)")
        return {name: _dimension(name, entry) for name, entry in space.items()}
    if isinstance(space, Sequence) and not isinstance(space, (str, bytes)):
        return _fixed_points(space)
    raise SearchSpaceError(
        f"search space: must be a dict of hyperparameters or a list of points, "
        f"got {type(space).__name__}"
    )


def load_search_space(path: str | os.PathLike) -> dict[str, Any] | list[dict[str, Any]]:
    """Read and check a ``tuning_search_space.json`` file; errors name the file."""
    try:
        with open(path) as file:
            space = json.load(file)
    except OSError as error:
        raise SearchSpaceError(f"search space file {os.fspath(path)!r}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise SearchSpaceError(
            f"search space file {os.fspath(path)!r}: not JSON ({error})"
        ) from None
    try:
        parse_search_space(space)
    except SearchSpaceError as error:
        raise SearchSpaceError(f"{os.fspath(path)}: {error}") from None
    return space


def _odd_primes_below(limit: int) -> list[int]:
    """The primes 3 <= p < limit, increasing (AlgoPerf's sieve leaves out 2)."""
    is_prime = np.ones(limit, dtype=bool)
    is_prime[:2] = False
    for factor in range(2, math.isqrt(limit - 1) + 1):
        if is_prime[factor]:
            is_prime[factor * factor :: factor] = False
    return [int(p) for p in np.flatnonzero(is_prime) if p != 2]


def halton_bases(num_dims: int) -> list[int]:
    """AlgoPerf's bases: the ``num_dims`` primes before the largest odd prime below 1000 k.

    k = 1, 2, ... is the first that leaves enough primes (for 1 dimension: [991]).
    """
    attempt = 1
    primes = _odd_primes_below(1000 * attempt)
    while len(primes) < num_dims + 1:
        attempt += 1
        primes = _odd_primes_below(1000 * attempt)
    return primes[-num_dims - 1 : -1]


def _van_der_corput(num_samples: int, base: int) -> list[float]:
    """Points 1..num_samples of base ``base``'s scrambled, shifted Van der Corput sequence.

    The digit permutation (0 kept fixed, 1..base-1 shuffled) and the shift come from
    ``RandomState(base)``, in that order, as AlgoPerf draws them; the digits are summed from
    the least significant, as AlgoPerf does, so the floats agree to the last bit.
    """
    rng = np.random.RandomState(base)
    digits = list(range(1, base))
    rng.shuffle(digits)
    permutation = [0, *digits]
    shift = rng.random_sample()
    sequence = []
    for index in range(1, num_samples + 1):
        value, denominator = 0.0, base
        while index:
            value += permutation[index % base] / denominator
            denominator *= base
            index //= base
        sequence.append(math.fmod(value + shift, 1.0))
    return sequence


def halton_sequence(num_samples: int, num_dims: int) -> np.ndarray:
    """``[num_samples, num_dims]`` points in [0, 1): AlgoPerf's, after its 100 skipped ones."""
    columns = [
        _van_der_corput(num_samples + SKIPPED_POINTS, base)[SKIPPED_POINTS:]
        for base in halton_bases(num_dims)
    ]
    return np.array(columns, dtype=np.float64).T.reshape(num_samples, num_dims)


def _value(dimension: Dimension, unit: float) -> float:
    """The hyperparameter value at ``unit`` in [0, 1)."""
    if isinstance(dimension, Choice):
        return dimension.feasible_points[int(math.floor(unit * len(dimension.feasible_points)))]
    if dimension.scaling == "log":
        return dimension.min * math.exp(unit * math.log(dimension.max / dimension.min))
    return unit * (dimension.max - dimension.min) + dimension.min


def _check_num_trials(num_trials: Any) -> int:
    if isinstance(num_trials, bool) or not isinstance(num_trials, (int, np.integer)):
        raise SearchSpaceError(f"num_trials must be an integer, got {num_trials!r}")
    if num_trials < 1:
        raise SearchSpaceError(f"num_trials must be at least 1, got {num_trials}")
    return int(num_trials)


def search_points(space: SearchSpace, num_trials: int) -> list[dict[str, float]]:
    """``num_trials`` points of ``space``: the set AlgoPerf's ``generate_search`` draws.

    For a dict space, the Halton points (see the module docstring), in sequence order. For a
    list space, its first ``min(num_trials, len(space))`` points, as given: AlgoPerf likewise
    cuts ``num_trials`` down to the number of points in the file (and runs fewer trials rather
    than repeating one). Raises :class:`SearchSpaceError` for a bad space or ``num_trials < 1``.
    """
    num_trials = _check_num_trials(num_trials)
    parsed = parse_search_space(space)
    if isinstance(parsed, tuple):
        return [dict(point) for point in parsed[:num_trials]]
    units = halton_sequence(num_trials, len(parsed))
    return [
        {
            name: _value(dimension, float(unit))
            for (name, dimension), unit in zip(parsed.items(), row)
        }
        for row in units
    ]
