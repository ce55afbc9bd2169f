"""The abuse suite: what an attacker tries in an afternoon, run alone with `pytest tests/abuse`.

Every test counts what it threw at the server through the session-wide ``abuse_report``
fixture; at the end of the run the counts are printed and written to
``benchmarks/results/abuse.json``, so a reviewer reads one figure per question (inputs tried,
5xx seen - which must be 0 -, sessions left open after a restart, documents stuck, peak memory
while parsing a bomb) instead of reading the tests.

The API is four calls::

    abuse_report.tried(n)                  # n hostile inputs sent
    abuse_report.server_error("POST /x")   # a 5xx (or a crash) seen: the suite's report flags it
    abuse_report.check(status, "POST /x")  # both at once for one response
    abuse_report.record("name", value)     # any other figure; numbers keep their maximum
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "abuse.json"
MAX_SERVER_ERRORS_KEPT = 50  # the first few say enough; the count says the rest


@dataclass
class AbuseReport:
    """Counts of one run of the abuse suite. Thread-safe: parsing workers and servers may call it
    from other threads."""

    inputs_tried: int = 0
    server_errors: int = 0
    server_error_examples: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def tried(self, n: int = 1) -> None:
        with self._lock:
            self.inputs_tried += n

    def server_error(self, what: str) -> None:
        with self._lock:
            self.server_errors += 1
            if len(self.server_error_examples) < MAX_SERVER_ERRORS_KEPT:
                self.server_error_examples.append(what)

    def check(self, status: int, what: str) -> None:
        """One input answered with ``status``; a 5xx is recorded as a server error."""
        self.tried()
        if status >= 500:
            self.server_error(f"{status} {what}")

    def record(self, name: str, value: Any) -> None:
        """A figure for the report. Numbers keep the largest value seen (peaks, worst cases);
        anything else keeps the last value."""
        with self._lock:
            old = self.figures.get(name)
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if numeric and isinstance(old, int | float) and not isinstance(old, bool):
                value = max(old, value)
            self.figures[name] = value

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "inputs_tried": self.inputs_tried,
                "server_errors": self.server_errors,
                "server_error_examples": list(self.server_error_examples),
                **dict(sorted(self.figures.items())),
            }


_REPORT = AbuseReport()


@pytest.fixture(scope="session")
def abuse_report() -> AbuseReport:
    return _REPORT


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _REPORT.inputs_tried == 0 and not _REPORT.figures:
        return  # no abuse test ran (another directory was selected)
    data = {"finished_at": datetime.now(UTC).isoformat(timespec="seconds"), **_REPORT.as_dict()}
    terminalreporter.section("abuse report")
    for name, value in data.items():
        if name != "server_error_examples":
            terminalreporter.write_line(f"{name:>40}: {value}")
    for example in data["server_error_examples"]:
        terminalreporter.write_line(f"{'5xx':>40}: {example}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=2) + "\n")
    terminalreporter.write_line(f"{'written to':>40}: {RESULTS}")
