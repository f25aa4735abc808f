"""The report page's charts, read back from what was drawn: each path's ``d``.

The other browser tests read hover text and ``data-xy`` attributes, which echo the
input; a chart drawn upside down, or on a linear axis where it says log, passed
them. Here each chart's axis is recovered from its own tick marks (their pixel
positions against their printed labels, which must lie on one straight line in
the axis's scale: log10 for a log axis), and every vertex of every drawn curve
must sit where that axis puts the value it stands for, to the page's 0.01 px
rounding. The values come from the library's numbers and their definitions
(the final gap f - f*, the loss as logged, the tutorial's smoothing).
"""

# ruff: noqa: F811 (the fixtures of tests/report/test_page.py, imported by name)
from __future__ import annotations

import re

import numpy as np
import pytest

from jaxopt_lab.problems import PROBLEMS
from jaxopt_lab.report import explorer
from tests.report.test_page import (  # noqa: F401 (fixtures)
    TUTORIAL_FOUR,
    browser,
    load,
    mnist_summary,
    page,
    sweep_record,
    two_d,
)

PIXEL = 0.03
"""Vertices are rounded to 0.01 px, ticks too: 0.03 px covers both and the fit."""

_CHART = """
const svg = arguments[0], selector = arguments[1];
const ticks = [...svg.querySelectorAll('g.axis g.tick')].map((g) => {
  const l = g.querySelector('line');
  return [+l.getAttribute('x1'), +l.getAttribute('x2'), +l.getAttribute('y1'),
          +l.getAttribute('y2'), g.querySelector('text').textContent];
});
return {ticks, paths: [...svg.querySelectorAll(selector)].map((p) => p.getAttribute('d'))};
"""


def chart(driver, svg_element, selector):
    """The chart's two axes (fitted from its ticks) and the ``d`` of each path ``selector``."""
    found = driver.execute_script(_CHART, svg_element, selector)
    x_ticks = [(x1, float(text)) for x1, x2, _, _, text in found["ticks"] if x1 == x2]
    y_ticks = [(y1, float(text)) for _, _, y1, y2, text in found["ticks"] if y1 == y2]
    return x_ticks, y_ticks, [parse_path(d) for d in found["paths"]]


def parse_path(d: str) -> list[np.ndarray]:
    """An SVG path of M/L commands: its pieces (a new one at each M), each an (n, 2) array."""
    pieces = []
    number = r"(-?[\d.]+(?:e[-+]?\d+)?)"
    for command, x, y in re.findall(rf"([ML])\s*{number},{number}", d):
        if command == "M":
            pieces.append([])
        pieces[-1].append((float(x), float(y)))
    assert re.sub(r"[ML]\s*-?[\d.e+-]+,-?[\d.e+-]+", "", d) == "", f"not only M/L commands: {d}"
    return [np.array(piece) for piece in pieces]


def axis(ticks, log: bool):
    """value -> pixel, fitted from the ticks; the ticks must lie on it (and be log if ``log``)."""
    assert len(ticks) >= 2, ticks
    pixels = np.array([p for p, _ in ticks])
    values = np.array([v for _, v in ticks])
    if log:
        assert np.all(values > 0), f"a log axis has ticks at {values}"
    scaled = np.log10(values) if log else values
    slope, intercept = np.polyfit(scaled, pixels, 1)
    residual = np.abs(intercept + slope * scaled - pixels).max()
    assert residual <= 0.011, (
        f"ticks {list(zip(values, pixels))} are not on a {'log' if log else 'linear'} axis"
    )

    def to_pixel(value):
        value = np.asarray(value, np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return intercept + slope * (np.log10(value) if log else value)

    to_pixel.slope = slope
    return to_pixel


def expected_pieces(xs, ys) -> list[np.ndarray]:
    """The pixel polyline of (x, y) pixel pairs, broken where a value is not finite."""
    pieces, current = [], []
    for x, y in zip(xs, ys, strict=True):
        if np.isfinite(x) and np.isfinite(y):
            current.append((x, y))
        elif current:
            pieces.append(np.array(current))
            current = []
    if current:
        pieces.append(np.array(current))
    return pieces


def assert_drawn(drawn, expected, what):
    assert len(drawn) == len(expected), f"{what}: {len(drawn)} pieces, expected {len(expected)}"
    for piece, wanted in zip(drawn, expected, strict=True):
        assert piece.shape == wanted.shape, (what, piece.shape, wanted.shape)
        np.testing.assert_allclose(piece, wanted, rtol=0, atol=PIXEL, err_msg=what)


def test_the_learning_rate_sweep_is_drawn_on_its_log_axes(browser, page, two_d):
    """Survivor of the audit: report.js ignoring the sweep chart's log x-axis."""
    from selenium.webdriver.common.by import By

    load(browser, page)
    problem = PROBLEMS[two_d.problems[0]]
    f_star = min(float(problem.function(np.asarray(m, np.float32))) for m in problem.minima)
    rates = np.asarray(two_d.learning_rates, np.float64)
    for o, label in enumerate(TUTORIAL_FOUR):
        figure = browser.find_element(By.CSS_SELECTOR, f'.panel[data-optimizer="{label}"]')
        svg = figure.find_element(By.CSS_SELECTOR, ".sweep svg")
        x_ticks, y_ticks, paths = chart(browser, svg, "g[clip-path] > path:not(.diverged-mark)")
        x, y = axis(x_ticks, log=True), axis(y_ticks, log=True)
        assert x.slope > 0 and y.slope < 0  # rates grow to the right, gaps upwards
        final = np.asarray(two_d.final_loss[0, o], np.float64)
        gaps = np.where(two_d.diverged[0, o], np.nan, np.maximum(final - f_star, 1e-12))
        assert_drawn(paths[0], expected_pieces(x(rates), y(gaps)), f"{label}'s sweep")


@pytest.mark.parametrize("kind", ["smoothed", "raw"])
def test_loss_curves_are_drawn_where_their_axes_put_them(browser, page, mnist_summary, kind):
    """Survivor of the audit: the loss curve drawn from raw data, upside down."""
    from selenium.webdriver.common.by import By

    load(browser, page)
    view = browser.find_element(By.CSS_SELECTOR, '[data-view="loss_curves"]')
    if kind == "raw":
        view.find_element(By.CSS_SELECTOR, "input.smoothed-toggle").click()
    svg = view.find_element(By.CSS_SELECTOR, ".chart svg")
    x_ticks, y_ticks, paths = chart(browser, svg, f'path.curve[data-kind="{kind}"]')
    x, y = axis(x_ticks, log=False), axis(y_ticks, log=False)
    assert x.slope > 0 and y.slope < 0  # iterations to the right, loss upwards
    series = explorer.loss_curves_view(mnist_summary).data["series"]
    assert len(paths) == len(series) == 2
    for drawn, curve in zip(paths, series, strict=True):
        values = np.asarray(curve[kind], np.float64)
        if kind == "raw":  # the loss as logged, not a transformation of it
            logged = [np.nan if v is None else v for v in mnist_summary["losses"][_label(curve)]]
            np.testing.assert_array_equal(values, np.asarray(logged, np.float32))
        iterations = np.arange(values.size)
        assert_drawn(drawn, expected_pieces(x(iterations), y(values)), f"{curve['label']} {kind}")


def _label(curve) -> str:
    return {"SGD": "sgd", "Momentum": "momentum"}[curve["label"]]


def test_the_mnist_sweep_is_drawn_on_its_log_axis(browser, page, sweep_record):
    from selenium.webdriver.common.by import By

    load(browser, page)
    view = browser.find_element(By.CSS_SELECTOR, '[data-view="mnist_sweep"]')
    svg = view.find_element(By.CSS_SELECTOR, ".chart svg")
    x_ticks, y_ticks, paths = chart(browser, svg, "path.curve")
    x, y = axis(x_ticks, log=True), axis(y_ticks, log=False)
    assert x.slope > 0 and y.slope < 0
    rates = np.asarray(sweep_record["axes"]["learning_rate"], np.float64)
    for k, drawn in enumerate(paths):
        losses = np.array([np.nan if row[k] is None else row[k]
                           for row in sweep_record["final_loss"]], np.float32)  # fmt: skip
        assert_drawn(drawn, expected_pieces(x(rates), y(losses.astype(np.float64))), f"seed {k}")


def test_the_geometry_check_sees_a_flipped_and_a_linear_chart():
    """The helpers can fail: a y axis read upside down, a log axis drawn linear."""
    ticks = [(10.0, 0.0), (110.0, 1.0), (210.0, 2.0)]
    to_pixel = axis(ticks, log=False)
    flipped = [np.array([[0.0, to_pixel(2.0 - 0.5)], [1.0, to_pixel(2.0 - 1.5)]])]
    with pytest.raises(AssertionError):
        assert_drawn(flipped, [np.array([[0.0, to_pixel(0.5)], [1.0, to_pixel(1.5)]])], "y")
    linear_decades = [(10.0, 0.01), (20.0, 0.1), (110.0, 1.0)]
    with pytest.raises(AssertionError, match="not on a log axis"):
        axis(linear_decades, log=True)
    assert parse_path("M1,2L3.5,-4e-2M5,6") and len(parse_path("M1,2L3.5,-4e-2M5,6")) == 2
