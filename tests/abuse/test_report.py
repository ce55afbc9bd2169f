"""The report's counter behaves as its docstring says (other helpers' tests rely on it)."""

from __future__ import annotations

from tests.abuse.conftest import AbuseReport


def test_counts_inputs_and_server_errors() -> None:
    report = AbuseReport()
    report.tried(3)
    report.check(400, "POST /v1/bots")
    report.check(503, "POST /v1/documents")
    report.server_error("crash")
    data = report.as_dict()
    assert data["inputs_tried"] == 5
    assert data["server_errors"] == 2
    assert data["server_error_examples"] == ["503 POST /v1/documents", "crash"]


def test_numbers_keep_their_peak_and_others_the_last_value() -> None:
    report = AbuseReport()
    report.record("peak_rss_mb", 120)
    report.record("peak_rss_mb", 80)
    report.record("documents_stuck", 0)
    report.record("note", "first")
    report.record("note", "second")
    data = report.as_dict()
    assert data["peak_rss_mb"] == 120
    assert data["documents_stuck"] == 0
    assert data["note"] == "second"
