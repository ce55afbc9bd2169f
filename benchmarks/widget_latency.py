"""Voice-to-voice latency as a visitor hears it, measured in the page: the widget in real
Chromium talks to Parley (a separate process) over its session token and voice WebSocket; the
fake microphone says one question per turn; latency is the time from the end of speech in the
mic's recording to the first audible reply sample on the widget's <audio> element's stream.

    python -m benchmarks.widget_latency --turns 10            # zero-latency vendor fakes

The vendors are the protocol fakes with the `zero` profile, so the figure is what Parley and the
browser add on top of the end-of-turn silence: capture worklet, WebSocket, VAD and end of turn,
the turn engine, pacing, the playback worklet's 60 ms pre-buffer and the page's audio graph.
Results: benchmarks/results/widget_latency.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shutil
import statistics
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import parley_under_test
from benchmarks.speech import QUESTIONS
from tests.e2e.conftest import BASE_FLAGS, GRANT_MIC_FLAG, PROBE_JS, first_energy_after
from tests.e2e.speech import Utterance, record
from tests.e2e.widget_page import serve_host_page

RESULTS = Path(__file__).parent / "results"
GAP_S = 9.0  # between question starts: room for the reply before the next question
AUDIBLE = 0.01  # RMS on the page's output, about -40 dBFS


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def measure(turns: int) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("needs Debian's chromium (apt-get install chromium)")
    texts = [QUESTIONS[i % len(QUESTIONS)] for i in range(turns)]
    extra = {"PARLEY_ALLOW_LOCALHOST_ORIGINS": "true"}  # the page is on the server's own origin
    with tempfile.TemporaryDirectory(prefix="parley-widget-bench-") as tmp:
        recording = await record(
            Path(tmp) / "mic.wav",
            [Utterance(text, at_s=1.0 + i * GAP_S) for i, text in enumerate(texts)],
            tail_s=GAP_S,
        )
        async with (
            parley_under_test("zero", extra_env=extra) as target,
            async_playwright() as driver,
        ):
            browser = await driver.chromium.launch(
                executable_path=chromium,
                headless=True,
                args=[*BASE_FLAGS, GRANT_MIC_FLAG, recording.chromium_arg],
            )
            try:
                page = await browser.new_page()
                await page.add_init_script(PROBE_JS)
                page.on("console", lambda m: m.type == "error" and print("page:", m.text))
                url = await serve_host_page(
                    page, target.http_url, str(target.bot_id), target.publishable_key
                )
                await page.goto(url)
                widget = page.locator("parley-chat")
                await widget.locator(".launcher").click()
                await widget.get_by_role("button", name="Start a voice call").click()
                await page.wait_for_function(
                    "() => __parleyProbe.micOpenedAt !== undefined", timeout=30_000
                )
                await page.wait_for_timeout(recording.duration_s * 1000 + 1000)
                found = await page.evaluate(
                    "({audio: __parleyProbe.audio, mic: __parleyProbe.micOpenedAt,"
                    " events: __parleyProbe.events.map((e) => [Math.round(e.t), e.type,"
                    " JSON.stringify(e.detail)])})"
                )
                hang_up = widget.get_by_role("button", name="Hang up")
                if await hang_up.is_visible():
                    await hang_up.click()
            finally:
                await browser.close()
    levels = [(float(t), float(rms)) for t, rms in found["audio"]]
    mic_at = float(found["mic"])
    latencies: list[float] = []
    missed = 0
    for i, end_s in enumerate(recording.speech_ends_s):
        spoken_end = mic_at + end_s * 1000
        next_start = mic_at + (1.0 + (i + 1) * GAP_S) * 1000
        heard = first_energy_after(levels, spoken_end, threshold=AUDIBLE)
        if heard is None or heard >= next_start:
            missed += 1
        else:
            latencies.append(heard - spoken_end)
    if missed:
        print("widget events:", *found["events"], sep="\n  ")
    return {
        "turns": turns,
        "answered": len(latencies),
        "missed": missed,
        "v2v_ms": [round(x, 1) for x in latencies],
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 0.95), 1) if latencies else None,
        "end_of_turn_silence_ms": target.settings.voice_end_of_turn_silence_ms,
    }


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    return cpu


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write(result: dict[str, Any], note: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    result = {**result, "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "machine": machine(), "commit": commit(), "note": note}  # fmt: skip
    (RESULTS / "widget_latency.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "### Voice-to-voice in the browser (widget), `zero` vendor profile",
        "",
        "| turns | answered | v2v p50 ms | v2v p95 ms | end-of-turn silence ms |",
        "|---|---|---|---|---|",
        f"| {result['turns']} | {result['answered']} | {result['p50_ms']} | {result['p95_ms']} "
        f"| {result['end_of_turn_silence_ms']} |",
        "",
        f"Measured {result['measured_at']} on {result['machine']}, commit {result['commit']}.",
        "- From the end of speech in the fake mic's recording to the first reply sample above "
        "-40 dBFS on the widget's <audio> element stream (an AnalyserNode in the page, 5 ms "
        "windows); includes the end-of-turn silence.",
        f"- {note}",
    ]
    (RESULTS / "widget_latency.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--note", default="", help="conditions, e.g. 'machine busy'")
    args = parser.parse_args()
    result = asyncio.run(measure(args.turns))
    write(result, args.note or "no note")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
