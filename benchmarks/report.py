"""Shared output for every benchmark: figures printed, then saved as JSON and a Markdown table
(and a PNG where the benchmark draws one) under ``benchmarks/results/``."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """What the figures were measured on; recorded with every result."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "commit": commit,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(values_s: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/mean in milliseconds of durations given in seconds."""
    ms = [v * 1000 for v in values_s]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "mean_ms": round(statistics.fmean(ms), 2) if ms else float("nan"),
    }


@dataclass
class Report:
    name: str
    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"### {self.title}", ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "---|" * len(self.columns))
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in self.rows]
        info = machine()
        lines += ["", f"Measured {info['when']} on {info['cpu']} ({info['cores']} cores), "
                  f"Python {info['python']}, commit {info['commit'] or 'n/a'}."]  # fmt: skip
        lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"

    def save(self, results_dir: Path = RESULTS_DIR) -> Path:
        results_dir.mkdir(parents=True, exist_ok=True)
        payload = {"name": self.name, "title": self.title, "machine": machine(),
                   "columns": self.columns, "rows": self.rows, "data": self.data,
                   "notes": self.notes}  # fmt: skip
        json_path = results_dir / f"{self.name}.json"
        json_path.write_text(json.dumps(payload, indent=2, default=str))
        (results_dir / f"{self.name}.md").write_text(self.markdown())
        print(self.markdown())
        print(f"saved {json_path.relative_to(results_dir.parent.parent)}")
        return json_path
