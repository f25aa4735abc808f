"""The report page in a real browser: the system's headless Chromium, driven by Selenium.

Each test opens the page from disk, waits for its script to finish
(``<body data-ready>``), and reads back what was drawn: a path's ``data-xy`` is the
positions it was drawn from, which must be the library's float32 numbers exactly
(and the tutorial's, or an unswept run's, to float32 rounding). Where Chromium is
absent the tests skip, saying how to install it; ``.ci/run`` installs it, and under
``CI=true`` a skip fails.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import jaxopt_lab
from jaxopt_lab.optimizer_spec import parse_optimizers
from jaxopt_lab.report import explorer
from jaxopt_lab.report.document import Section, Table
from jaxopt_lab.runs.training import RunConfig, summarize
from jaxopt_lab.two_d import TUTORIAL_LEARNING_RATES, trajectory
from tests.test_two_d import seed_reference_trajectory

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
)  # fmt: skip
"""Without the background-networking flags Chromium tries the network at start."""
NETWORK_SCHEMES = ("http:", "https:", "ws:", "wss:", "ftp:")
TUTORIAL_FOUR = ["sgd", "momentum", "adagrad", "adam"]
PROBLEMS = ["bowl", "rosenbrock"]
STEPS = 30


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        pytest.skip(
            "Chromium or chromedriver not found: the page's browser tests need them "
            "(Debian: apt-get install chromium chromium-driver; .ci/run installs them)"
        )
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_argument("--window-size=1280,1000")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def two_d() -> explorer.TwoDExplorer:
    """The tutorial's four on two problems, 16 rates plus the presets, the tutorial's 30 steps."""
    return explorer.explore_two_d(TUTORIAL_FOUR, PROBLEMS, np.geomspace(1e-2, 2.0, 16), STEPS)


@pytest.fixture(scope="module")
def mnist_summary() -> dict:
    """A run's summary, as runs.py writes it; Momentum's loss turns NaN at iteration 150."""
    rng = np.random.default_rng(0)
    iterations = np.arange(200)
    losses = np.stack([2.3 * np.exp(-iterations / rate) + 0.1 * rng.random(200)
                       for rate in (120.0, 40.0)]).astype(np.float32)  # fmt: skip
    losses[1, 150:] = np.nan
    config = RunConfig(parse_optimizers(["sgd", "momentum"]), 200, 128, 0)
    return summarize(config, losses, [0.91, None])


@pytest.fixture(scope="module")
def sweep_record() -> dict:
    """An mnist-sweep's sweep.json: three rates x two seeds, one run diverged."""
    return {
        "optimizer": "sgd", "iterations": 500,
        "axes": {"learning_rate": [0.001, 0.01, 0.1], "seed": [0, 7]},
        "final_loss": [[2.1, 2.2], [0.4, 0.45], [None, 0.3]],
        "test_accuracy": [[0.3, 0.28], [0.88, 0.87], [0.1, 0.91]],
    }  # fmt: skip


@pytest.fixture(scope="module")
def page(tmp_path_factory, two_d, mnist_summary, sweep_record):
    folder = tmp_path_factory.mktemp("page")
    runs = [
        Section("MNIST", [explorer.loss_curves_view(mnist_summary), Table(["a"], [["b"]])]),
        Section("MNIST sweep", [explorer.mnist_sweep_view(sweep_record)]),
    ]
    return explorer.write_explore_page(folder, explorer.explore_report(two_d, runs))


# --------------------------------------------------------------------------- helpers


def load(driver, path):
    """Open ``path``; once its script has run, its console errors and every request made."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser"), driver.get_log("performance")  # drop what came before
    driver.get(path.as_uri())
    WebDriverWait(driver, 10).until(
        lambda d: d.execute_script("return document.body && document.body.dataset.ready")
    )
    return logs(driver)


def logs(driver):
    errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    requests = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requests.append((message["params"]["request"]["url"],
                             message["params"].get("documentURL", "")))  # fmt: skip
    return errors, requests


def outside_requests(requests, page_uri):
    """Requests to the network, and anything the page asked for beyond itself and data: URIs."""

    def inside(url, document):
        return document != page_uri or url == page_uri or url.startswith("data:")

    return [url for url, document in requests
            if url.startswith(NETWORK_SCHEMES) or not inside(url, document)]  # fmt: skip


def drawn(element):
    """The path drawn in ``element``: its attributes, its positions and its pixels."""
    attributes = element.parent.execute_script(
        "const p = arguments[0].querySelector('polyline.path'); const s = p.ownerSVGElement;"
        "return {xy: p.dataset.xy, points: p.getAttribute('points'), rate: p.dataset.learningRate,"
        " index: p.dataset.lrIndex, step: p.dataset.step, problem: p.dataset.problem,"
        " window: s.dataset.window, width: s.getAttribute('width')};",
        element,
    )

    def pairs(text):
        return np.array([[float(v) for v in pair.split(",")] for pair in text.split()])

    return dict(attributes, xy=pairs(attributes["xy"]), points=pairs(attributes["points"]),
                index=int(attributes["index"]), step=int(attributes["step"]))  # fmt: skip


def assert_pixels_follow_positions(path):
    """The polyline's pixels are its positions mapped into the plot (rounded to 0.01 px)."""
    x0, x1, y0, y1 = map(float, path["window"].split())
    scale = float(path["width"]) / (x1 - x0)
    expected = np.stack([(path["xy"][:, 0] - x0) * scale, (y1 - path["xy"][:, 1]) * scale], -1)
    np.testing.assert_allclose(path["points"], expected, rtol=0, atol=0.011)


def panel(driver, label):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f'.panel[data-optimizer="{label}"]')


def save_screenshot(driver, path):
    driver.set_window_size(1280, driver.execute_script("return document.body.scrollHeight") + 40)
    assert driver.save_screenshot(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000


# --------------------------------------------------------------------------- tests


def test_the_page_loads_offline_with_no_error_and_no_request(browser, page, tmp_path):
    errors, requests = load(browser, page)
    assert errors == []
    assert requests and outside_requests(requests, page.as_uri()) == []
    views = browser.execute_script(
        "return [...document.querySelectorAll('[data-view]')]"
        ".map(v => [v.dataset.view, v.querySelectorAll('svg').length])"
    )
    assert [name for name, _ in views] == ["two_d", "loss_curves", "mnist_sweep"]
    assert all(count > 0 for _, count in views)
    save_screenshot(browser, tmp_path / "report.png")  # kept under the test's folder


def test_the_checks_see_a_request_and_an_error(browser, tmp_path):
    """The two checks above can fail: a page that asks the network and throws is caught."""
    probe = tmp_path / "probe.html"
    probe.write_text('<!DOCTYPE html><html><body><img src="http://192.0.2.1/probe.png">'
                     '<script>document.body.dataset.ready = "true"; notDefined();</script>'
                     "</body></html>")  # fmt: skip
    errors, requests = load(browser, probe)
    assert any("notDefined" in error for error in errors)
    assert outside_requests(requests, probe.as_uri()) == ["http://192.0.2.1/probe.png"]


def test_a_learning_rate_slider_moved_by_keyboard_draws_that_rate_s_trajectory(
    browser, page, two_d
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    load(browser, page)
    o = TUTORIAL_FOUR.index("adam")
    adam = panel(browser, "adam")
    opening = drawn(adam)
    assert opening["index"] == two_d.presets["adam"] and opening["problem"] == "bowl"
    assert float(opening["rate"]) == np.float32(TUTORIAL_LEARNING_RATES["adam"])

    rate_slider = adam.find_element(By.CSS_SELECTOR, "input.learning-rate")
    rate_slider.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
    moved = drawn(adam)
    index = two_d.presets["adam"] + 2
    assert moved["index"] == index and moved["step"] == STEPS
    rate = two_d.learning_rates[index]
    assert float(moved["rate"]) == rate
    # Exactly the sweep's float32 numbers, and an unswept run's to float32 rounding.
    np.testing.assert_array_equal(moved["xy"], two_d.trajectories[0, o, index])
    unswept = np.asarray(trajectory(jaxopt_lab.adam(float(rate)), "bowl", steps=STEPS))
    np.testing.assert_allclose(moved["xy"], unswept, rtol=1e-5, atol=1e-5)
    assert_pixels_follow_positions(moved)
    readout = adam.find_element(By.CSS_SELECTOR, ".readout")
    assert np.float32(readout.get_attribute("data-final-loss")) == two_d.final_loss[0, o, index]
    assert rate_slider.get_attribute("aria-valuetext") == f"{float(rate):.3g}"

    rate_slider.send_keys(Keys.HOME)
    np.testing.assert_array_equal(drawn(adam)["xy"], two_d.trajectories[0, o, 0])
    step_slider = adam.find_element(By.CSS_SELECTOR, "input.step")
    step_slider.send_keys(Keys.ARROW_LEFT, Keys.ARROW_LEFT, Keys.ARROW_LEFT)
    shortened = drawn(adam)
    assert shortened["step"] == STEPS - 3
    np.testing.assert_array_equal(shortened["xy"], two_d.trajectories[0, o, 0, : STEPS - 2])

    # A rate that diverges says so in words, and its path stops where it left the numbers.
    sgd = panel(browser, "sgd")
    sgd.find_element(By.CSS_SELECTOR, "input.learning-rate").send_keys(Keys.END)
    assert two_d.diverged[0, 0, -1]
    flag = sgd.find_element(By.CSS_SELECTOR, ".readout .diverged-flag")
    assert "diverged" in flag.text
    xy = drawn(sgd)["xy"]
    np.testing.assert_array_equal(xy, two_d.trajectories[0, 0, -1, : len(xy)])
    errors, requests = logs(browser)
    assert errors == [] and outside_requests(requests, page.as_uri()) == []


def test_switching_the_problem_redraws_the_contours_and_every_path(browser, page, two_d, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    load(browser, page)
    contour = "return document.querySelector('.panel .contour').getAttribute('d')"
    bowl_contours = browser.execute_script(contour)
    Select(browser.find_element(By.CSS_SELECTOR, "select.problem")).select_by_value("rosenbrock")
    assert browser.execute_script(contour) != bowl_contours
    description = browser.find_element(By.CSS_SELECTOR, ".description").text
    assert description.startswith("rosenbrock: Rosenbrock")
    for o, label in enumerate(TUTORIAL_FOUR):
        path = drawn(panel(browser, label))
        assert path["problem"] == "rosenbrock" and path["window"] == "-2 2 -1 3"
        index = two_d.presets[label]
        expected = two_d.trajectories[1, o, index]
        finite = np.all(np.isfinite(expected), axis=1)
        count = len(expected) if finite.all() else int(np.argmin(finite))
        np.testing.assert_array_equal(path["xy"], expected[:count])
    save_screenshot(browser, tmp_path / "rosenbrock.png")


def test_overlay_and_the_tutorial_s_settings(browser, page, two_d):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    load(browser, page)
    panel(browser, "sgd").find_element(By.CSS_SELECTOR, "input.learning-rate").send_keys(
        Keys.ARROW_LEFT
    )
    Select(browser.find_element(By.CSS_SELECTOR, "select.problem")).select_by_value("rosenbrock")
    browser.find_element(By.CSS_SELECTOR, "input.overlay-toggle").click()
    browser.find_element(By.CSS_SELECTOR, "button.preset").click()

    paths = browser.execute_script(
        "return [...document.querySelectorAll('.overlay polyline.path')].map(p => ["
        "p.dataset.optimizer, p.dataset.problem, p.dataset.xy, p.getAttribute('stroke-dasharray')])"
    )
    assert [label for label, *_ in paths] == TUTORIAL_FOUR
    assert browser.execute_script(
        "return [...document.querySelectorAll('.panel .plot')].every(p => p.hidden)"
    )
    for label, problem, xy, _ in paths:
        assert problem == "bowl"
        positions = np.array([[float(v) for v in pair.split(",")] for pair in xy.split()])
        # The tutorial's figure: its NumPy classes in float64 against the page's float32.
        tutorial = seed_reference_trajectory(label, TUTORIAL_LEARNING_RATES[label], STEPS)
        np.testing.assert_allclose(positions, tutorial, rtol=0, atol=2e-5)
    # Told apart without colour: a dash pattern each, and the name at each path's end.
    assert len({dash for *_, dash in paths}) == 4
    labels = browser.execute_script(
        "return [...document.querySelectorAll('.overlay .end-label')].map(t => t.textContent)"
    )
    assert labels == ["SGD", "Momentum", "AdaGrad", "Adam"]


def test_loss_curves_read_by_hovering_smoothed_or_raw(browser, page, mnist_summary):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    load(browser, page)
    view = browser.find_element(By.CSS_SELECTOR, '[data-view="loss_curves"]')
    curves = explorer.loss_curves_view(mnist_summary).data["series"]

    def hover(iteration):
        target = view.find_element(By.CSS_SELECTOR, "rect.hover")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", target)
        box = browser.execute_script(
            "const r = arguments[0], s = r.ownerSVGElement, b = r.getBoundingClientRect();"
            "return {scale: b.width / r.width.baseVal.value, width: b.width};", target)  # fmt: skip
        x = iteration / 199 * box["width"] - box["width"] / 2
        ActionChains(browser).move_to_element_with_offset(target, round(x), 0).perform()

    def readout():
        out = view.find_element(By.CSS_SELECTOR, ".readout")
        values = browser.execute_script(
            "return [...arguments[0].querySelectorAll('[data-value]')].map(s => s.dataset.value)",
            out,
        )
        return int(out.get_attribute("data-iteration")), out.get_attribute("data-kind"), values

    hover(120)
    iteration, kind, values = readout()
    assert abs(iteration - 120) <= 1 and kind == "smoothed"
    assert [np.float32(v) for v in values] == [c["smoothed"][iteration] for c in curves]
    view.find_element(By.CSS_SELECTOR, "input.smoothed-toggle").click()
    hover(170)
    iteration, kind, values = readout()
    assert abs(iteration - 170) <= 1 and kind == "raw"
    assert np.float32(values[0]) == curves[0]["raw"][iteration] and values[1] == "NaN"
    # The same reading by keyboard: the iteration slider.
    view.find_element(By.CSS_SELECTOR, 'input[type="range"]').send_keys(Keys.HOME, Keys.ARROW_RIGHT)
    iteration, _, values = readout()
    assert iteration == 1 and [np.float32(v) for v in values] == [c["raw"][1] for c in curves]


def test_an_mnist_sweep_draws_loss_against_rate_per_seed(browser, page, sweep_record):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    load(browser, page)
    view = browser.find_element(By.CSS_SELECTOR, '[data-view="mnist_sweep"]')
    series = browser.execute_script(
        "return [...arguments[0].querySelectorAll('path.curve')].map(p => [p.dataset.series,"
        " p.dataset.xy])", view)  # fmt: skip
    assert [name for name, _ in series] == ["seed 0", "seed 7"]
    for k, (_, xy) in enumerate(series):
        pairs = [pair.split(",") for pair in xy.split()]
        rates = [np.float64(rate) for rate, _ in pairs]
        losses = [np.float32(loss) for _, loss in pairs]
        assert rates == sweep_record["axes"]["learning_rate"]
        expected = [np.float32(np.nan if row[k] is None else row[k])
                    for row in sweep_record["final_loss"]]  # fmt: skip
        np.testing.assert_array_equal(losses, expected)
    assert "diverged" in view.text
    view.find_element(By.CSS_SELECTOR, 'input[type="range"]').send_keys(Keys.END)
    out = view.find_element(By.CSS_SELECTOR, ".readout")
    assert out.get_attribute("data-index") == "2"
    assert "seed 0: loss diverged" in out.text
    assert "seed 7: loss 0.3, test accuracy 0.91" in out.text
