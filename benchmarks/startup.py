"""Time from `parley serve` to a 200 on /readyz with the embedded database (warm venv, existing
data directory after the first run), and time to stop on SIGTERM.

    python -m benchmarks.startup [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.report import Report
from tests.support.server import free_port


def one_run(data_dir: Path) -> tuple[float, float]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.pop("DATABASE_URL", None)
    env.update({"PARLEY_PORT": str(port), "PARLEY_DATA_DIR": str(data_dir)})
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "voice_server", "serve"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                raise RuntimeError("parley serve exited before it was ready")
            time.sleep(0.02)
        ready = time.perf_counter() - started
        stopping = time.perf_counter()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        return ready, time.perf_counter() - stopping
    finally:
        if process.poll() is None:
            process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="parley-start-", dir="/tmp") as tmp:
        data_dir = Path(tmp) / "d"
        first_ready, _ = one_run(data_dir)  # creates the database cluster (initdb)
        runs = [one_run(data_dir) for _ in range(args.runs)]
    ready = [r for r, _ in runs]
    stop = [s for _, s in runs]
    report = Report(
        name="startup",
        title="Start-up: `parley serve` to /readyz 200 (embedded PostgreSQL)",
        columns=["measure", "median s", "min s", "max s", "runs"],
        rows=[
            ["first start (initdb + migrations)", round(first_ready, 2), "", "", 1],
            [
                "warm start",
                round(statistics.median(ready), 2),
                round(min(ready), 2),
                round(max(ready), 2),
                len(ready),
            ],
            [
                "SIGTERM to exit (PostgreSQL stopped)",
                round(statistics.median(stop), 2),
                round(min(stop), 2),
                round(max(stop), 2),
                len(stop),
            ],
        ],  # fmt: skip
        data={"first_ready_s": first_ready, "ready_s": ready, "stop_s": stop},
    )
    report.save()


if __name__ == "__main__":
    main()
