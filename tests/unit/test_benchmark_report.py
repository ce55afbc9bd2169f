from __future__ import annotations

import json
from pathlib import Path

from benchmarks.report import Report, percentile, summary_ms


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([10, 20, 30, 40], 50) == 25
    assert percentile([5.0], 95) == 5.0
    assert percentile([1, 2, 3, 4, 5], 100) == 5


def test_summary_is_in_milliseconds() -> None:
    summary = summary_ms([0.010, 0.020, 0.030])
    assert summary["p50_ms"] == 20.0
    assert summary["n"] == 3


def test_report_saves_json_and_markdown(tmp_path: Path) -> None:
    report = Report("demo", "Demo", ["what", "ms"], [["x", 1.5]], data={"raw": [1, 2]})
    path = report.save(tmp_path)
    saved = json.loads(path.read_text())
    assert saved["rows"] == [["x", 1.5]]
    assert saved["machine"]["cores"] >= 1
    assert "| x | 1.5 |" in (tmp_path / "demo.md").read_text()
