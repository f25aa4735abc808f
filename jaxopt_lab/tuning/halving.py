"""Successive halving's rungs: where a study stops its trials, and how many go on.

Successive halving (Jamieson & Talwalkar 2016; Li et al. 2017, "Hyperband")
with reduction factor η over ``n`` trials and a budget of ``E`` evaluations:
rung ``r`` (``r = 0 .. R - 1``, ``R = ⌊log_η n⌋``) ends at evaluation
``round(E / η^(R - r))``; there every study keeps its best ``⌊n_r / η⌋`` trials
by validation metric (at least one), and the last segment runs the survivors
to ``E``. With ``n = 27``, ``η = 3``: 27 trials to E/27, 9 to E/9, 3 to E/3,
1 to E, about 3 E lane-evaluations instead of 27 E.

Rung ends are whole evaluations (a trial is compared where it was measured);
rungs that would end at the same evaluation merge.
"""

from __future__ import annotations

from typing import NamedTuple


class RungPlan(NamedTuple):
    """``ends[r]``: the evaluation (1-based count) at which segment ``r`` ends (the last is
    the budget); ``lanes[r]``: trials per study that run segment ``r``."""

    ends: tuple[int, ...]
    lanes: tuple[int, ...]

    def lane_evaluations(self) -> int:
        """Evaluation windows run per study, summed over lanes (x ``eval_every``: lane-steps)."""
        starts = (0,) + self.ends[:-1]
        return sum(n * (end - start) for n, end, start in zip(self.lanes, self.ends, starts))


def rung_plan(evaluations: int, trials: int, eta: int | None) -> RungPlan:
    """The segments of a study of ``trials`` trials over ``evaluations`` evaluations.

    ``eta=None``: one segment, every trial to the end. Raises ``ValueError`` for an
    ``eta`` that is not an integer >= 2.
    """
    if eta is None:
        return RungPlan((evaluations,), (trials,))
    if isinstance(eta, bool) or not isinstance(eta, int) or eta < 2:
        raise ValueError(f"halving must be an integer >= 2 (the reduction factor η), got {eta!r}")
    cuts = 0
    while trials // eta ** (cuts + 1) >= 1:
        cuts += 1
    segments: list[tuple[int, int]] = []  # (end, lanes that run up to it)
    alive = trials
    for rung in range(cuts):
        end = max(1, round(evaluations / eta ** (cuts - rung)))
        if end >= evaluations:
            break
        if not segments or end > segments[-1][0]:
            segments.append((end, alive))
        alive = max(1, alive // eta)  # a rung that ends where the last one did cuts there again
    segments.append((evaluations, alive))
    ends, lanes = zip(*segments)
    return RungPlan(tuple(ends), tuple(lanes))
