"""Hostile run folders under ``jaxopt-lab explore --run``, and script links in the page.

A run folder may hold anything. Crafted ``losses.json``/``sweep.json`` files end in
one ``error:`` line (exit 2) in bounded time and memory, checked against their
schema (:mod:`jaxopt_lab.runs.run_files`); a value from a folder (its name, a label)
is text on the page, never a link; the page's links are relative or http(s)
only; and its Content-Security-Policy lets the lab's own script run (by its
SHA-256) and nothing else inline, which a browser confirms.
"""

from __future__ import annotations

import html
import json
import os
import re
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from jaxopt_lab import cli, files
from jaxopt_lab.optimizer_spec import parse_optimizers
from jaxopt_lab.report import explorer
from jaxopt_lab.report.document import Paragraph, Report, Section, safe_link, to_html, to_markdown
from jaxopt_lab.runs.training import RunConfig, summarize
from tests.report.test_page import browser  # noqa: F401 - the shared Chromium fixture

TIME_LIMIT = 10.0  # seconds per refusal (the bound); each takes milliseconds
PEAK_LIMIT = 300 * 2**20  # bytes (the bound)
SCRIPT_LINK = "[click](javascript:alert(1))"


def summary() -> dict:
    """A genuine losses.json summary, as runs.py writes it."""
    config = RunConfig(parse_optimizers(["sgd", "adam"]), 5, 16, 0)
    losses = np.linspace(2.0, 1.0, 10, dtype=np.float32).reshape(2, 5)
    return files.json_safe(summarize(config, losses, [0.5, 0.6]))


def sweep_record() -> dict:
    return {
        "optimizer": "sgd", "iterations": 5,
        "axes": {"learning_rate": [0.01, 0.1], "seed": [0, 1]},
        "final_loss": [[2.0, 2.1], [1.0, None]], "test_accuracy": [[0.1, 0.2], [0.5, 0.6]],
    }  # fmt: skip


def write(folder: Path, name: str, content) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = content if isinstance(content, str) else json.dumps(content)
    (folder / name).write_text(text)


def _with(**changes) -> dict:
    return {**summary(), **changes}


CRAFTED_RUNS = {
    "integer label": (lambda f: write(f, "losses.json", _with(optimizers=[5, "adam"])),
                      r"each label in 'optimizers' must be a string"),
    "losses as a string": (lambda f: write(f, "losses.json", _with(losses="1,2,3")),
                           r"'losses' must be an object with one list per label"),
    "a loss as a string": (
        lambda f: write(f, "losses.json", _with(losses={"sgd": ["x"], "adam": [1.0]})),
        r"'losses' of 'sgd' must be a list of finite numbers or nulls"),
    "deep nesting": (lambda f: write(f, "losses.json", "[" * 200_000 + "]" * 200_000),
                     r"nested too deeply"),
    "no labels": (lambda f: write(f, "losses.json", {"losses": {}}),
                  r"not the losses.json of a jaxopt-lab run"),
    "empty labels": (lambda f: write(f, "losses.json", _with(optimizers=[], losses={})),
                     r"'optimizers' must be a list of 1 to 1000 labels"),
    "script link as the seed": (lambda f: write(f, "losses.json", _with(seed=SCRIPT_LINK)),
                                r"'seed' must be an integer >= 0"),
    "NaN constant": (lambda f: write(f, "losses.json", json.dumps(summary()).replace(
        "2.0", "NaN", 1)), r"NaN is not JSON"),
    "not UTF-8": (lambda f: write(f, "losses.json", "") or (f / "losses.json").write_bytes(
        b"\xff\xfe{}"), r"cannot read .*losses.json"),
    "too large": (lambda f: write(f, "losses.json", "") or os.truncate(
        f / "losses.json", 2**30), r"holds 1,073,741,824 bytes, more than"),
    "empty sweep lists": (
        lambda f: write(f, "sweep.json", {**sweep_record(), "axes": {"learning_rate": [],
                                                                      "seed": []}}),
        r"axis 'learning_rate' must be a non-empty list"),
    "sweep without a swept axis": (
        lambda f: write(f, "sweep.json", {**sweep_record(), "axes": {"seed": [0, 1]},
                                          "final_loss": [1, 2], "test_accuracy": [1, 2]}),
        r"'axes' must be an object of one swept setting or more, then 'seed'"),
    "sweep losses of another shape": (
        lambda f: write(f, "sweep.json", {**sweep_record(), "final_loss": [[1.0], [2.0]]}),
        r"'final_loss' must be numbers shaped like the axes, \[2, 2\]"),
    "a file of another run": (
        lambda f: (write(f, "losses.json", summary()), write(f, "result.json", {
            "format": 1, "files": {"losses.json": {"run_id": "ab", "bytes": 3,
                                                   "sha256": "0" * 64}}})),
        r"mixes files of two runs"),
}  # fmt: skip


@pytest.mark.parametrize("case", CRAFTED_RUNS)
def test_each_crafted_run_folder_is_one_line_exit_2(tmp_path, capsys, case):
    make, expected = CRAFTED_RUNS[case]
    folder = tmp_path / "run"
    make(folder)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["explore", "--run", str(folder), "--out", str(tmp_path / "out")])
    finally:
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(error)
    last = error[-1]
    assert last.startswith("jaxopt-lab explore: error: --run: ") and len(last) < 600, last
    assert re.search(expected, last), last
    assert peak < PEAK_LIMIT and elapsed < TIME_LIMIT, (case, peak / 2**20, elapsed)
    assert not (tmp_path / "out").exists()  # refused before anything ran or was written


@pytest.mark.parametrize("kind", ["symlink to /dev/zero", "FIFO", "directory"])
def test_a_losses_json_that_is_not_a_file_is_never_read(tmp_path, kind):
    folder = tmp_path / "run"
    folder.mkdir()
    path = folder / "losses.json"
    if kind == "FIFO":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        path.symlink_to("/dev/zero")
    start = time.perf_counter()
    with pytest.raises(explorer.RunFolderError, match="holds neither the losses.json"):
        explorer.run_section(folder)
    with pytest.raises(ValueError, match="is not a regular file"):  # the reader itself
        files.read_regular_file(path, 2**20)
    assert time.perf_counter() - start < TIME_LIMIT


def test_the_genuine_files_pass_their_schemas(tmp_path):
    write(tmp_path / "run", "losses.json", summary())
    write(tmp_path / "sweep", "sweep.json", sweep_record())
    assert explorer.run_section(tmp_path / "run").title == "MNIST: SGD, Adam"
    assert explorer.run_section(tmp_path / "sweep").title.startswith("MNIST sweep: SGD")


def test_a_folder_named_like_a_script_link_is_text_on_the_page(tmp_path):
    folder = tmp_path / SCRIPT_LINK
    write(folder, "losses.json", summary())
    section = explorer.run_section(folder)
    page = to_html(Report("r", [section]))
    assert "javascript:" in page  # the name is shown...
    assert 'href="javascript' not in page.lower()  # ...as text, never as a link
    markdown = to_markdown(Report("r", [section]))
    assert "\\[click\\]\\(javascript:alert\\(1\\)\\)" in markdown  # escaped: no link there


@pytest.mark.parametrize(
    "url, allowed",
    [
        ("javascript:alert(1)", False), ("JaVaScRiPt:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False), ("vbscript:x", False),
        ("file:///etc/passwd", False), ("mnist/losses.json", True), ("#top", True),
        ("https://optax.readthedocs.io", True), ("http://example.org/a:b", True),
        ("./a:b", True), ("a:b", False),
    ],
)  # fmt: skip
def test_the_page_links_only_relative_and_http_urls(url, allowed):
    assert safe_link(url) is allowed
    page = to_html(Report("r", [Section("s", [Paragraph(f"see [here]({url})")])]))
    assert ('<a href="' in page) is allowed


def test_a_paragraph_cannot_smuggle_a_link_through_entities():
    """The browser decodes an href's entities once: what it would follow is never a script."""
    for text in ("[x](javascript&#58;alert(1))", "[x](&#106;avascript:alert(1))",
                 "[x](java&#x73;cript:alert(1))"):  # fmt: skip
        page = to_html(Report("r", [Section("s", [Paragraph(text)])]))
        for href in re.findall(r'<a href="([^"]*)"', page):
            followed = html.unescape(href)
            assert safe_link(followed) and not followed.lower().startswith("javascript:")


def test_the_policy_runs_the_labs_script_and_no_other_inline_script(browser, tmp_path):  # noqa: F811
    """An inline script or handler slipped into the page (as an escaping bug would) does
    not run; the lab's own script does (it marks the body ready)."""
    page = to_html(Report("r", [Section("s", [Paragraph("text")])]))
    injected = page.replace(
        "<main>",
        "<main><script>document.title = 'injected'</script>"
        '<img src="data:," onerror="document.title = \'handler\'">'
        '<a id="link" href="javascript:document.title = \'link\'">x</a>',
    )
    path = tmp_path / "page.html"
    path.write_text(injected)
    browser.get(path.as_uri())
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 20).until(
        lambda d: d.execute_script("return document.body && document.body.dataset.ready")
    )
    browser.find_element("id", "link").click()
    time.sleep(0.3)
    assert browser.title == "r"  # neither the script, the handler nor the link ran
