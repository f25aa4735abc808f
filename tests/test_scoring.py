"""AlgoPerf's scoring on hand-built tables: ∞, ties, the 4x cut, and the median over studies."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from jaxopt_lab.scoring import (
    capped_ratios,
    leaderboard_score,
    performance_profiles,
    time_to_target,
)

INF = math.inf

# workloads a..d, optimizers x, y, z. By hand:
#  a: best 100; x r=1, y r=1 (a tie), z r=2.5
#  b: best 50 (y); z 500 > 4*50 is cut to a miss; x missed
#  c: best 100 (y); x 400 = 4*100 exactly is kept, r=4 (counts only at tau=4)
#  d: everyone missed
TIMES = pd.DataFrame(
    {
        "a": [100.0, 100.0, 250.0],
        "b": [INF, 50.0, 500.0],
        "c": [400.0, 100.0, INF],
        "d": [INF, INF, INF],
    },
    index=["x", "y", "z"],
)
H = 3 / 99  # the spacing of the 100 taus in [1, 4]


def test_ratios_with_ties_misses_and_the_4x_cut():
    ratios = capped_ratios(TIMES)
    expected = pd.DataFrame(
        {"a": [1.0, 1.0, 2.5], "b": [INF, 1.0, INF], "c": [4.0, 1.0, INF], "d": [INF, INF, INF]},
        index=["x", "y", "z"],
    )
    pd.testing.assert_frame_equal(ratios, expected)


def test_profiles_by_hand():
    profiles = performance_profiles(TIMES)
    taus = profiles.columns.to_numpy()
    assert len(taus) == 100 and taus[0] == 1.0 and taus[-1] == 4.0
    assert list(profiles.index) == ["x", "y", "z"]
    # at tau = 1: x has a; y has a, b, c; z nothing
    assert list(profiles.iloc[:, 0]) == [1 / 4, 3 / 4, 0.0]
    # at tau = 4: x adds c (r = 4 exactly); z has a (2.5)
    assert list(profiles.iloc[:, -1]) == [2 / 4, 3 / 4, 1 / 4]
    # z's a enters at the first tau >= 2.5: 1 + 3k/99 >= 2.5 <=> k >= 49.5, so k = 50
    z = profiles.loc["z"].to_numpy()
    assert (z[:50] == 0).all() and (z[50:] == 1 / 4).all()


def test_scores_by_hand():
    scores = leaderboard_score(performance_profiles(TIMES))
    # The trapezoid of a step from 0 to 1 at grid point k covers (4 - tau_k) + H / 2.
    # x: a all along (area 3), c from the last point (H / 2). y: a, b, c (3 each).
    # z: a from k = 50. Each workload weighs 1/4; the integral is divided by 3.
    tau_50 = 1 + 50 * H
    expected = {
        "x": (3 + H / 2) / 4 / 3,
        "y": (3 + 3 + 3) / 4 / 3,
        "z": ((4 - tau_50) + H / 2) / 4 / 3,
    }
    assert scores.name == "score" and list(scores.index) == ["x", "y", "z"]
    for name, value in expected.items():
        assert scores[name] == pytest.approx(value, rel=1e-12)
    assert scores["y"] == pytest.approx(0.75)


def test_a_single_optimizer_fastest_everywhere_scores_one():
    times = pd.DataFrame({"a": [10.0, 20.0], "b": [5.0, 100.0]}, index=["fast", "slow"])
    scores = leaderboard_score(performance_profiles(times))
    assert scores["fast"] == pytest.approx(1.0)
    # slow: a at r = 2 (enters at the first tau >= 2), b cut (20 > 4)
    first = np.argmax(np.linspace(1, 4, 100) >= 2.0)
    tau = 1 + first * H
    assert scores["slow"] == pytest.approx(((4 - tau) + H / 2) / 2 / 3, rel=1e-12)


@pytest.mark.parametrize(
    ("times", "message"),
    [
        (pd.DataFrame({"a": [1.0, np.nan]}), "NaN"),
        (pd.DataFrame({"a": [1.0, 0.0]}), "positive"),
        (pd.DataFrame({"a": [1.0, -3.0]}), "positive"),
        (pd.DataFrame(), "non-empty"),
    ],
)
def test_bad_time_tables_are_refused(times, message):
    with pytest.raises(ValueError, match=message):
        performance_profiles(times)


def _curves(rows):
    return pd.DataFrame(rows, columns=["study", "trial", "step", "validation_metric"])


def test_time_to_target_earliest_evaluation_then_median_over_studies():
    rows = [
        # study 0: trial 0 reaches 0.9 at 30, trial 1 at 20 -> 20
        (0, 0, 10, 0.5),
        (0, 0, 20, 0.8),
        (0, 0, 30, 0.95),
        (0, 1, 10, 0.6),
        (0, 1, 20, 0.9),
        (0, 1, 30, 0.99),
        # study 1: trial 0 diverges (NaN never reaches), trial 1 reaches at 10 -> 10
        (1, 0, 10, np.nan),
        (1, 0, 20, np.nan),
        (1, 0, 30, np.nan),
        (1, 1, 10, 0.91),
        (1, 1, 20, 0.92),
        (1, 1, 30, 0.93),
        # study 2: no trial reaches -> inf
        (2, 0, 10, 0.1),
        (2, 0, 20, 0.2),
        (2, 0, 30, 0.3),
        (2, 1, 10, 0.1),
        (2, 1, 20, 0.89),
        (2, 1, 30, np.nan),
    ]
    result = time_to_target(_curves(rows), target=0.9, direction="maximize", seconds_per_step=0.5)
    assert result.steps == 20.0  # median of 20, 10, inf
    assert result.seconds == 10.0
    assert list(result.studies["step"]) == [20.0, 10.0, INF]
    assert list(result.studies["trial"].iloc[:2]) == [1, 1] and np.isnan(result.studies["trial"][2])


def test_two_of_three_studies_missing_is_a_miss_and_minimize_uses_le():
    rows = [
        (0, 0, 5, 0.4),
        (0, 0, 10, 0.05),  # reaches 0.1 at 10
        (1, 0, 5, 0.4),
        (1, 0, 10, 0.2),  # misses
        (2, 0, 5, np.inf),
        (2, 0, 10, 0.1000001),  # misses (just above)
    ]
    result = time_to_target(_curves(rows), target=0.1, direction="minimize")
    assert result.steps == INF and math.isnan(result.seconds)
    reached = time_to_target(_curves(rows), target=0.2, direction="minimize")
    assert reached.steps == 10.0  # median of 10, 10, 10 (0.2 <= 0.2 counts)


def test_ties_between_trials_take_the_lower_trial():
    rows = [(0, 3, 10, 1.0), (0, 1, 10, 1.0), (0, 2, 5, 0.0)]
    assert list(
        time_to_target(_curves(rows), target=1.0, direction="maximize").studies["trial"]
    ) == [1]


def test_bad_time_to_target_input():
    curves = _curves([(0, 0, 1, 1.0)])
    with pytest.raises(ValueError, match="direction"):
        time_to_target(curves, target=1.0, direction="up")
    with pytest.raises(ValueError, match="missing columns"):
        time_to_target(curves.drop(columns="trial"), target=1.0, direction="maximize")
    with pytest.raises(ValueError, match="seconds_per_step"):
        time_to_target(curves, target=1.0, direction="maximize", seconds_per_step=0.0)
