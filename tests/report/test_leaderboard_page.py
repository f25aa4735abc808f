"""A leaderboard's ``report.html`` in a real browser (the Chromium of tests/report/test_page.py).

The page is the one the tiny real leaderboard of tests/report/test_leaderboard_view.py wrote
into its folder. What the page draws and reads out on hover or by keyboard is compared with
the profiles computed by hand from the summary's time tables, and with the rows of
``curves.parquet``.
"""

# ruff: noqa: F811 (the fixtures of tests/report/test_page.py and test_leaderboard_view.py)
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from tests.report.test_leaderboard_view import (  # noqa: F401 (fixtures)
    BOARD,
    board,
    hand_profile,
    hand_shown_trials,
)
from tests.report.test_page import browser, load, logs, outside_requests  # noqa: F401

_PROFILES = """
return [...arguments[0].querySelectorAll('path.profile')].map((p) => [p.dataset.series,
  p.dataset.unit, p.getAttribute('d')]);
"""
_CURVES = """
return [...arguments[0].querySelectorAll('path.curve')].map((p) => [p.dataset.series,
  p.dataset.workload, +p.dataset.study, +p.dataset.trial, p.dataset.xy]);
"""
_READOUT = """
const out = arguments[0].querySelector(arguments[1]);
return {data: Object.assign({}, out.dataset), values: [...out.querySelectorAll('[data-value]')]
  .map((s) => [s.dataset.series, s.dataset.value])};
"""


def _view(driver):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, '[data-view="leaderboard"]')


def _hand_profiles(board, unit):
    summary = json.loads((board / "summary.json").read_text())
    table = summary[f"{unit}_to_target"]
    times = np.array([[np.inf if table[o][w] is None else table[o][w] for w in BOARD.workloads]
                      for o in BOARD.optimizers])  # fmt: skip
    return hand_profile(times, np.linspace(1, 4, 100))


def test_the_page_loads_offline_and_draws_a_profile_per_optimizer(browser, board):
    page = board / "report.html"
    errors, requests = load(browser, page)
    assert errors == []
    assert requests and outside_requests(requests, page.as_uri()) == []
    view = _view(browser)
    drawn = browser.execute_script(_PROFILES, view)
    assert [(name, unit) for name, unit, _ in drawn] == [(o, "steps") for o in BOARD.optimizers]
    assert all(d.count("L") > 10 for *_, d in drawn)
    view.find_element("css selector", "input.seconds-toggle").click()
    drawn = browser.execute_script(_PROFILES, view)
    assert [(name, unit) for name, unit, _ in drawn] == [(o, "seconds") for o in BOARD.optimizers]
    assert logs(browser)[0] == []


def test_hovering_and_arrow_keys_read_the_profiles(browser, board):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    load(browser, board / "report.html")
    view = _view(browser)
    taus = np.linspace(1, 4, 100)

    def read():
        found = browser.execute_script(_READOUT, view, ".profile-readout")
        return found["data"], dict(found["values"])

    for unit in ("steps", "seconds"):
        expected = _hand_profiles(board, unit)
        target = view.find_element(By.CSS_SELECTOR, "rect.hover")  # redrawn with each unit
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", target)
        width = browser.execute_script("return arguments[0].getBoundingClientRect().width", target)
        # hover at tau = 3.25: three quarters of the way along the axis
        ActionChains(browser).move_to_element_with_offset(target, round(width / 4), 0).perform()
        data, values = read()
        k = int(np.argmin(np.abs(taus - float(data["tau"]))))
        assert data["unit"] == unit and abs(taus[k] - 3.25) < 0.05 and float(data["tau"]) == taus[k]
        for o, name in enumerate(BOARD.optimizers):
            assert float(values[name]) == expected[o, k]
        # the keyboard: the tau slider, on either side of the first step up of a profile.
        # In steps the board has one inside (1, 4]; in seconds the ratios rest on measured
        # step times, and may all fall outside: then at both ends of the axis.
        steps = np.flatnonzero(np.any(np.diff(expected, axis=1) != 0, axis=0))
        assert steps.size or unit == "seconds", "the step profiles never step up in (1, 4]"
        positions = (int(steps[0]), int(steps[0]) + 1) if steps.size else (0, len(taus) - 1)
        slider = view.find_element(By.CSS_SELECTOR, f"#{view.get_attribute('id')}-profile-read")
        for k in positions:
            slider.send_keys(Keys.HOME, *[Keys.ARROW_RIGHT] * k)
            data, values = read()
            assert float(data["tau"]) == taus[k]
            assert [float(values[name]) for name in BOARD.optimizers] == list(expected[:, k])
        view.find_element(By.CSS_SELECTOR, "input.seconds-toggle").click()
    # the profiles differ between the optimizers somewhere, so the check above can fail
    assert not np.array_equal(expected[0], expected[1])


def test_the_workload_selector_switches_the_curves_read_by_keyboard(browser, board):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    load(browser, board / "report.html")
    view = _view(browser)
    summary = json.loads((board / "summary.json").read_text())
    curves = pd.read_parquet(board / "curves.parquet")
    for workload in reversed(BOARD.workloads):  # the selector opens on the first
        Select(view.find_element(By.CSS_SELECTOR, "select.workload")).select_by_value(workload)
        target = next(c["target"] for c in summary["cells"] if c["workload"] == workload)
        mine = curves[curves["workload"] == workload]
        shown = hand_shown_trials(mine, target)
        drawn = browser.execute_script(_CURVES, view)
        assert [name for name, *_ in drawn] == list(BOARD.optimizers)
        line = view.find_element(By.CSS_SELECTOR, "line.target")
        assert float(line.get_attribute("data-value")) == target
        last = {}
        for name, shown_workload, study, trial, xy in drawn:
            assert shown_workload == workload and (study, trial) == shown[name][:2]
            rows = mine[(mine["optimizer"] == name) & (mine["study"] == study)
                        & (mine["trial"] == trial)].sort_values("step")  # fmt: skip
            pairs = np.array([[float(v) for v in pair.split(",")] for pair in xy.split()])
            np.testing.assert_array_equal(pairs[:, 0], rows["step"])
            np.testing.assert_array_equal(pairs[:, 1], rows["validation_metric"].astype(float))
            last[name] = rows.iloc[-1]
        slider = view.find_element(By.CSS_SELECTOR, f"#{view.get_attribute('id')}-curves-read")
        slider.send_keys(Keys.END)
        found = browser.execute_script(_READOUT, view, ".curve-readout")
        assert found["data"]["workload"] == workload
        assert int(found["data"]["step"]) == BOARD.steps[workload]
        for name, value in found["values"]:
            assert float(value) == float(last[name]["validation_metric"])
    assert logs(browser)[0] == []


def test_profiles_curves_and_target_are_drawn_where_their_axes_put_them(browser, board):
    """What was drawn, read back from each path's ``d`` against the chart's own ticks."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from tests.report.test_page_geometry import assert_drawn, axis, chart, expected_pieces

    load(browser, board / "report.html")
    view = _view(browser)
    taus = np.linspace(1, 4, 100)
    for unit in ("steps", "seconds"):
        if unit == "seconds":
            view.find_element(By.CSS_SELECTOR, "input.seconds-toggle").click()
        svg = view.find_elements(By.CSS_SELECTOR, ".chart svg")[0]
        x_ticks, y_ticks, paths = chart(browser, svg, "path.profile")
        x, y = axis(x_ticks, log=False), axis(y_ticks, log=False)
        assert x.slope > 0 and y.slope < 0  # tau to the right, rho upwards
        expected = _hand_profiles(board, unit)
        for o, drawn in enumerate(paths):
            right = np.append(taus[1:], taus[-1])  # each value held until the next tau
            xs = np.stack([taus, right], axis=1).reshape(-1)
            ys = np.repeat(expected[o], 2)
            assert_drawn(drawn, expected_pieces(x(xs), y(ys)), f"{BOARD.optimizers[o]} {unit}")
    summary = json.loads((board / "summary.json").read_text())
    curves = pd.read_parquet(board / "curves.parquet")
    for workload in BOARD.workloads:
        Select(view.find_element(By.CSS_SELECTOR, "select.workload")).select_by_value(workload)
        svg = view.find_elements(By.CSS_SELECTOR, ".chart svg")[1]
        x_ticks, y_ticks, paths = chart(browser, svg, "path.curve")
        mine = curves[curves["workload"] == workload]
        target = next(c["target"] for c in summary["cells"] if c["workload"] == workload)
        shown = {}
        for name, (study, trial, _) in hand_shown_trials(mine, target).items():
            rows = mine[(mine["optimizer"] == name) & (mine["study"] == study)
                        & (mine["trial"] == trial)].sort_values("step")  # fmt: skip
            shown[name] = (rows["step"].to_numpy(np.float64),
                           rows["validation_metric"].to_numpy(np.float64))  # fmt: skip
        # a log axis where the metric is minimized and spans more than a factor 100
        values = np.concatenate([metric for _, metric in shown.values()] + [[target]])
        log = bool(np.nanmin(values) > 0 and np.nanmax(values) / np.nanmin(values) > 100)
        assert log == (workload == "rosenbrock")
        x, y = axis(x_ticks, log=False), axis(y_ticks, log=log)
        assert x.slope > 0 and y.slope < 0
        line = browser.execute_script(
            "const l = arguments[0].querySelector('line.target'); return +l.getAttribute('y1');",
            svg,
        )
        assert abs(line - y(target)) <= 0.011, (workload, line, y(target))
        for name, drawn in zip(BOARD.optimizers, paths, strict=True):
            steps, metric = shown[name]
            assert_drawn(drawn, expected_pieces(x(steps), y(metric)), f"{name} on {workload}")
