"""The docs: generated from the code and its records, built without a warning, working in a browser.

The site is built once per test session (``docs_site``), with the command CI runs
(``sphinx-build -W --keep-going -n``), incrementally into ``docs/_build/html``: a build
that warns fails here, and the browser tests read the site that was just built. CI
(``.ci/run``) builds the site with that command just before the tests, so this build
only checks that it is current (5 s, against 40 s from nothing). The
records' tests fail when a record was measured on other rows than the code's: the
message says which command records it again.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from jaxopt_lab import equivalences
from jaxopt_lab.equivalences import render
from tests.report.test_page import NETWORK_SCHEMES, browser, logs  # noqa: F401  (headless Chromium)

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SITE = DOCS / "_build" / "html"
sys.path.insert(0, str(DOCS / "_ext"))
import generated  # noqa: E402  (docs/_ext/generated.py: what the docs build generates)

ROWS = list(equivalences.select(equivalences.EQUIVALENCES))


def _record(name: str) -> dict:
    return json.loads((DOCS / "results" / name).read_text())


# --------------------------------------------------------------------------- the records


def test_equivalence_record_is_current():
    recorded = _record("equivalences.json")
    assert recorded["steps"] == equivalences.STEPS
    assert recorded["fingerprint"] == render.fingerprint(ROWS, recorded["steps"]), (
        "docs/results/equivalences.json was measured on other rows: rerun "
        "jaxopt-lab check --record docs/results/equivalences.json"
    )
    assert [entry["name"] for entry in recorded["rows"]] == [row.name for row in ROWS]
    for row, entry in zip(ROWS, recorded["rows"], strict=True):
        if row.other is not None:  # every library was installed when it was recorded
            assert set(entry["measured"]) == {"float32", "float64"}, row.name
            assert {m["verdict"] for m in entry["measured"].values()} <= {
                "agree", "differ (documented)"
            }, row.name  # fmt: skip


def test_a_changed_row_makes_the_record_stale():
    recorded = _record("equivalences.json")
    changed = [dataclasses.replace(ROWS[0], ulps_per_step=ROWS[0].ulps_per_step + 0.5,
                                   note="changed"), *ROWS[1:]]  # fmt: skip
    assert render.fingerprint(changed, recorded["steps"]) != recorded["fingerprint"]
    with pytest.raises(ValueError, match="stale"):
        render.render_recorded(recorded, changed)
    with pytest.raises(ValueError, match="stale"):
        render.render_recorded({**recorded, "steps": recorded["steps"] + 1}, ROWS)


def test_port_record_is_current():
    from jaxopt_lab.port import conventions, matrix, record

    recorded = _record("port.json")
    assert recorded["fingerprint"] == record.fingerprint(
        matrix.CASES, conventions.CONVENTIONS, recorded["steps"]
    ), (
        "docs/results/port.json was measured on other cases: rerun jaxopt-lab port "
        "--matrix --conventions --record docs/results/port.json"
    )
    assert [entry["case"] for entry in recorded["matrix"]] == [case.label for case in matrix.CASES]
    assert not [entry["case"] for entry in recorded["matrix"] if entry["failures"]]
    assert len(recorded["conventions"]) == len(conventions.CONVENTIONS)


@pytest.mark.slow
def test_the_record_renders_as_check_prints(tmp_path, capsys):
    """``check --record``'s file renders to the very table ``check`` printed."""
    from jaxopt_lab import cli

    path = tmp_path / "record.json"
    status = cli.main(["check", "--steps", "5", "--optimizer", "adam", "lion",
                       "--library", "optax", "--record", str(path)])  # fmt: skip
    printed = capsys.readouterr().out
    assert status == 0
    recorded = json.loads(path.read_text())
    rows = equivalences.select(equivalences.EQUIVALENCES, optimizers_wanted=["adam", "lion"],
                               libraries=["optax"])  # fmt: skip
    assert recorded["steps"] == 5 and len(recorded["rows"]) == len(rows)
    table = render.render_recorded(recorded, rows)
    assert table in printed
    first = recorded["rows"][0]["measured"]["float32"]
    assert first["verdict"] == "agree" and 0 <= first["scaled_ulps"] <= equivalences.FLAT_ULPS


def test_port_record_renders_as_port_prints(tmp_path, capsys, monkeypatch):
    """``port --matrix --conventions --record``: the file renders to the tables it printed,
    and a record of other cases is refused."""
    pytest.importorskip("torch")
    from jaxopt_lab import cli
    from jaxopt_lab.port import conventions, matrix, record

    adam = [case for case in matrix.TORCH_CASES if case.optimizer == "Adam(lr=1e-3)"]
    monkeypatch.setattr(matrix, "CASES", adam)
    monkeypatch.setattr(conventions, "CONVENTIONS", conventions.CONVENTIONS[2:3])
    path = tmp_path / "port.json"
    status = cli.main(["port", "--matrix", "--conventions", "--steps", "20",
                       "--record", str(path)])  # fmt: skip
    printed = capsys.readouterr().out
    assert status == 0
    recorded = json.loads(path.read_text())
    matrix_text, conventions_text = record.render_recorded(recorded)
    assert matrix_text in printed and conventions_text in printed
    assert "1 cases, 0 failures (20 steps)" in matrix_text
    assert 0 <= recorded["matrix"][0]["float32_ulps"] <= matrix.FLOAT32_ULPS
    monkeypatch.setattr(matrix, "CASES", matrix.TORCH_CASES[:2])
    with pytest.raises(ValueError, match="stale"):
        record.render_recorded(recorded)


def test_record_needs_a_folder(capsys):
    from jaxopt_lab import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["check", "--record", "/no/such/folder/record.json"])
    assert exit_info.value.code == 2
    assert "--record: no folder '/no/such/folder'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["port", "--matrix", "--record", "x.json"])
    assert exit_info.value.code == 2
    assert "--record needs --matrix and --conventions" in capsys.readouterr().err


def test_readme_in_short_is_generated():
    text = (ROOT / "README.md").read_text()
    assert text == generated.readme_with_in_short(text), (
        "the README's in-short list is stale: run python docs/_ext/generated.py --readme"
    )
    for line in equivalences.in_short(ROWS):
        assert line in text


def test_benchmark_pages_read_every_result():
    text = generated.benchmark_fragments()["benchmarks.md"]
    results = sorted((ROOT / "benchmarks" / "results").glob("*/*.json"))
    assert results
    for path in results:
        assert f"benchmarks/results/{path.parent.name}/{path.name}" in text
    update = json.loads((ROOT / "benchmarks" / "results" / "cpu" / "update.json").read_text())
    speedup = update["summary"]["adam_many_leaves_flat_step_speedup_vs_optax"]
    assert f"{speedup:.4g}" in text


# --------------------------------------------------------------------------- the site


@pytest.fixture(scope="session")
def docs_site() -> Path:
    """The site, built as CI builds it; the build must not warn."""
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    pytest.importorskip("furo")
    built = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html",
         str(DOCS), str(SITE)],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-5000:]
    return SITE


@pytest.fixture(scope="module")
def site_url(docs_site: Path):
    """The site served on localhost, as a docs host serves it (from ``file:`` the search's
    result snippets are fetched cross-origin, which Chromium refuses with a console error)."""
    import functools
    import http.server
    import threading

    handler = functools.partial(_QuietHandler, directory=str(docs_site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    thread.join()


class _QuietHandler(__import__("http.server").server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the test reads the browser's logs, not the server's
        pass


def _open(driver, url: str, ready: str) -> tuple[list[str], list[str]]:
    """Open a page of the site; once ``ready`` (a CSS selector) shows, its console errors
    and the requests it made outside the site (it is offline: there must be none)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser"), driver.get_log("performance")
    driver.get(url)
    WebDriverWait(driver, 20).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ready))
    )
    errors, requests = logs(driver)
    site = url[: url.index("/", len("http://")) + 1]
    outside = [address for address, _ in requests
               if address.startswith(NETWORK_SCHEMES) and not address.startswith(site)]  # fmt: skip
    return errors, outside


@pytest.mark.slow
def test_site_opens_without_errors_and_searches(site_url, browser):  # noqa: F811
    for page, ready in [
        ("index.html", "article"),
        ("_autosummary/jaxopt_lab.html", "dl.py.function"),
        ("equivalence.html", "table"),
        ("report.html", "iframe"),
    ]:
        errors, outside = _open(browser, site_url + page, ready)
        assert errors == [], (page, errors)
        assert outside == [], (page, outside)
    _open(browser, site_url + "_autosummary/jaxopt_lab.html", "dl.py.function")
    adam = browser.find_element("id", "jaxopt_lab.adam")  # the API page renders the docstring
    assert "Kingma" in adam.find_element("xpath", "..").text

    # The search (one test with the above: the site is built once, by one xdist worker).
    from selenium.webdriver.support.ui import WebDriverWait

    errors, outside = _open(browser, site_url + "search.html", "form")
    browser.get(site_url + "search.html?q=schedule_free_adamw")
    WebDriverWait(browser, 20).until(lambda d: d.find_elements("css selector", "ul.search li a"))
    links = [a.get_attribute("href") for a in browser.find_elements("css selector",
                                                                     "ul.search li a")]  # fmt: skip
    assert any("schedule_free" in link for link in links), links
    query_errors, _ = logs(browser)
    assert errors == [] and outside == [] and query_errors == []
