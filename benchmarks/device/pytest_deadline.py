"""A pytest plugin for the device run: a deadline, and every test's outcome as JSON.

    python -m pytest -p benchmarks.device.pytest_deadline --deadline-seconds 120 \\
        --outcomes-json tests.json tests/test_flat.py ...

Once ``--deadline-seconds`` have passed since the session started, no new test
starts (the session stops after the running one, as ``-x`` stops it); the
tests not started are counted, by file. After every test the outcomes so far
are written to ``--outcomes-json`` (atomically), so a run killed from outside
still leaves them. Tests run in the order of the command line.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

MESSAGE_CHARS = 1500
"""How much of a failure's report the JSON keeps (its end, where the assertion is)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("deadline", "device run: a deadline and outcomes as JSON")
    group.addoption(
        "--deadline-seconds", type=float, default=None,
        help="start no test after this many seconds from the session's start",
    )  # fmt: skip
    group.addoption("--outcomes-json", default=None, help="write every test's outcome here")


def pytest_configure(config: pytest.Config) -> None:
    deadline = config.getoption("deadline_seconds")
    path = config.getoption("outcomes_json")
    if deadline is not None or path is not None:
        config.pluginmanager.register(Recorder(deadline, path), "jaxopt_lab_deadline_recorder")


class Recorder:
    """Collects outcomes per test and stops the session at the deadline."""

    def __init__(self, deadline_seconds: float | None, path: str | None):
        if deadline_seconds is not None and deadline_seconds < 0:
            raise pytest.UsageError(f"--deadline-seconds: want >= 0, got {deadline_seconds}")
        self.deadline = deadline_seconds
        self.path = Path(path) if path else None
        self.started = time.monotonic()
        self.session: pytest.Session | None = None
        self.items: list[str] = []
        self.outcomes: dict[str, str] = {}
        self.durations: dict[str, float] = {}
        self.failures: list[dict[str, str]] = []
        self.skips: Counter[str] = Counter()
        self.collection_errors: list[dict[str, str]] = []
        self.stopped_for_time = False
        self.finished = False

    # ---------------------------------------------------------------- hooks

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session
        self.started = time.monotonic()

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(
                {"nodeid": report.nodeid, "message": _tail(report.longreprtext)}
            )
        elif report.skipped:  # a whole module skipped (importorskip at its top)
            self.skips[f"{_skip_reason(report)} (whole module {report.nodeid})"] += 1

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.items = [item.nodeid for item in session.items]
        self.write()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        nodeid = report.nodeid
        self.durations[nodeid] = self.durations.get(nodeid, 0.0) + report.duration
        if hasattr(report, "wasxfail"):
            self.outcomes[nodeid] = "xfailed" if report.skipped else "xpassed"
        elif report.failed:
            if self.outcomes.get(nodeid) != "failed":
                self.failures.append(
                    {"nodeid": nodeid, "when": report.when, "message": _tail(report.longreprtext)}
                )
            self.outcomes[nodeid] = "failed"
        elif report.skipped:
            self.outcomes[nodeid] = "skipped"
            self.skips[_skip_reason(report)] += 1
        elif report.when == "call":
            self.outcomes.setdefault(nodeid, "passed")
        if report.when == "teardown":
            self.outcomes.setdefault(nodeid, "passed")
            self._check_deadline()
            self.write()

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.finished = True
        self.write()

    # ---------------------------------------------------------------- state

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _check_deadline(self) -> None:
        if self.deadline is None or self.session is None or self.elapsed() <= self.deadline:
            return
        if len(self.outcomes) < len(self.items):
            self.stopped_for_time = True
            self.session.shouldstop = (
                f"deadline: {self.deadline:g} s passed; "
                f"{len(self.items) - len(self.outcomes)} tests not started"
            )

    def summary(self) -> dict[str, Any]:
        not_run = [nodeid for nodeid in self.items if nodeid not in self.outcomes]
        slowest = sorted(self.durations.items(), key=lambda item: -item[1])[:15]
        return {
            "deadline_s": self.deadline,
            "elapsed_s": self.elapsed(),
            "finished": self.finished,
            "stopped_for_time": self.stopped_for_time,
            "collected": len(self.items),
            "counts": dict(Counter(self.outcomes.values())),
            "not_run": len(not_run),
            "not_run_by_file": dict(Counter(nodeid.split("::")[0] for nodeid in not_run)),
            "failures": self.failures,
            "skip_reasons": dict(self.skips.most_common()),
            "collection_errors": self.collection_errors,
            "slowest": [{"nodeid": nodeid, "seconds": seconds} for nodeid, seconds in slowest],
            "outcomes": dict(self.outcomes),
        }

    def write(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(self.summary(), indent=1))
        os.replace(temporary, self.path)


def _tail(text: str) -> str:
    return text[-MESSAGE_CHARS:]


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")
