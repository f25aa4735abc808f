"""Search spaces: AlgoPerf's quasirandom point sets, list spaces, and every bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from jaxopt_lab.tuning import SearchSpaceError, load_search_space, search_points

# Points drawn by AlgoPerf's own algoperf/halton.py generate_search (a copy of
# /work/shared/algoperf/halton_points.json; see the README beside that file).
ALGOPERF_POINTS = json.loads(
    (Path(__file__).resolve().parents[3] / "shared" / "algoperf" / "halton_points.json").read_text()
)


def _sorted(points):
    return sorted(points, key=lambda point: tuple(point[name] for name in sorted(point)))


@pytest.mark.parametrize("case", sorted(ALGOPERF_POINTS))
def test_the_same_set_as_algoperf(case):
    # 1e-12 relative: the same float operations in the same order; any other
    # rounding of exp/log would still agree to ~1e-15.
    expected = ALGOPERF_POINTS[case]
    points = search_points(expected["space"], expected["num_trials"])
    assert len(points) == expected["num_trials"]
    for got, want in zip(_sorted(points), _sorted(expected["points"]), strict=True):
        assert got.keys() == want.keys()
        for name in want:
            assert got[name] == pytest.approx(want[name], rel=1e-12, abs=0)


def test_values_lie_in_their_ranges_and_feasible_points():
    space = {
        "lr": {"min": 1e-3, "max": 1.0, "scaling": "log"},
        "x": {"min": -2.0, "max": 3.0, "scaling": "linear"},
        "c": {"feasible_points": [0.1, 0.2, 0.3]},
        "same": {"min": 0.5, "max": 0.5, "scaling": "log"},
    }
    points = search_points(space, 40)
    assert len({point["lr"] for point in points}) == 40  # quasirandom: no repeats
    for point in points:
        assert 1e-3 <= point["lr"] <= 1.0 and -2.0 <= point["x"] <= 3.0
        assert point["c"] in (0.1, 0.2, 0.3) and point["same"] == pytest.approx(0.5)
    assert {point["c"] for point in points} == {0.1, 0.2, 0.3}
    # log scaling: log(lr) is spread evenly, so about half the points lie below the
    # geometric middle 10**-1.5 (Halton points are within a few of an even split)
    below = sum(point["lr"] < 10**-1.5 for point in points)
    assert 15 <= below <= 25


def test_a_list_space_returns_its_points_cut_to_num_trials():
    space = [{"learning_rate": 0.1, "beta2": 0.9}, {"learning_rate": 0.2, "beta2": 0.99}]
    assert search_points(space, 1) == [{"learning_rate": 0.1, "beta2": 0.9}]
    assert search_points(space, 2) == space
    # AlgoPerf runs min(num_trials, len(space)) trials rather than repeating a point
    assert search_points(space, 5) == space


def test_points_are_deterministic():
    space = {"lr": {"min": 1e-4, "max": 1e-1, "scaling": "log"}}
    assert search_points(space, 7) == search_points(space, 7)
    # a longer search extends a shorter one (the same Halton sequence)
    assert search_points(space, 9)[:7] == search_points(space, 7)


BAD_SPACES = [
    ({"lr": {"min": 1.0, "max": 0.1, "scaling": "log"}}, "'lr': min 1 > max 0.1"),
    ({"lr": {"min": 0.0, "max": 0.1, "scaling": "log"}}, "'lr': a log range needs min > 0"),
    ({"lr": {"min": -1.0, "max": 0.1, "scaling": "log"}}, "'lr': a log range needs min > 0"),
    ({"b2": {"feasible_points": []}}, "'b2': feasible_points is empty"),
    ({"lr": {"min": 0.1, "max": 1.0, "scaling": "exp"}}, "'lr': unknown scaling 'exp'"),
    ({"lr": {"min": 0.1, "max": math.inf, "scaling": "log"}}, "'lr': max must be finite"),
    ({"lr": {"min": math.nan, "max": 1.0, "scaling": "linear"}}, "'lr': min must be finite"),
    ({"lr": {"min": "0.1", "max": 1.0, "scaling": "log"}}, "'lr': min must be a number"),
    ({"lr": {"min": 0.1, "max": 1.0}}, "'lr' needs exactly min, max and scaling"),
    ({"lr": 0.1}, "'lr' must be {min, max, scaling} or {feasible_points}"),
    ({"b2": {"feasible_points": 0.9}}, "'b2': feasible_points must be a list"),
    ({"b2": {"feasible_points": [0.9, None]}}, "'b2': feasible_points must be a number"),
    ({"b2": {"feasible_points": [True]}}, "'b2': feasible_points must be a number"),
    ({"b2": {"feasible_points": [0.9], "min": 0.1}}, "'b2' mixes feasible_points with ['min']"),
    ({}, "no hyperparameters"),
    ([], "the list of points is empty"),
    ([{"lr": 0.1}, {"b1": 0.9}], "point 1 has hyperparameters ['b1'], point 0 has ['lr']"),
    ([{"lr": "fast"}], "'lr': point 0 must be a number"),
    ("lr", "must be a dict of hyperparameters or a list of points"),
]


@pytest.mark.parametrize(("space", "message"), BAD_SPACES)
def test_a_bad_space_is_refused_in_one_line_naming_it(space, message):
    with pytest.raises(SearchSpaceError) as error:
        search_points(space, 3)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert isinstance(error.value, ValueError)


@pytest.mark.parametrize("num_trials", [0, -1, 2.5, True])
def test_a_bad_number_of_trials_is_refused(num_trials):
    with pytest.raises(SearchSpaceError, match="num_trials"):
        search_points({"lr": {"feasible_points": [0.1]}}, num_trials)


def test_load_search_space_reads_a_file_and_names_a_bad_one(tmp_path):
    good = tmp_path / "tuning_search_space.json"
    space = ALGOPERF_POINTS["nadamw_baseline/16"]["space"]
    good.write_text(json.dumps(space))
    assert load_search_space(good) == space
    bad = tmp_path / "bad.json"
    bad.write_text('{"lr": {"min": 2, "max": 1, "scaling": "log"}}')
    with pytest.raises(SearchSpaceError, match=r"bad.json: search space: 'lr': min 2 > max 1"):
        load_search_space(bad)
    broken = tmp_path / "broken.json"
    broken.write_text("{lr")
    with pytest.raises(SearchSpaceError, match="broken.json.*not JSON"):
        load_search_space(broken)
    with pytest.raises(SearchSpaceError, match="missing.json"):
        load_search_space(tmp_path / "missing.json")
