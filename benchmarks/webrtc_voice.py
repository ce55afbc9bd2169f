"""WebRTC against WebSocket on the same server and the same fake vendors: voice-to-voice p50/p95,
server CPU per session, late reply frames; and the largest number of concurrent WebRTC calls
with no late reply frame. Callers run in their own process (``benchmarks.callers`` for the
WebSocket, ``benchmarks.webrtc_callers`` for WebRTC), the server in another.

    python -m benchmarks.webrtc_voice --profile zero --callers 1,10 --turns 3
    python -m benchmarks.webrtc_voice --profile zero --sweep 5,10,20,30 --webrtc-only

CPU per session is the server's CPU over the run (psutil, percent of one core) divided by the
number of callers: the same turns over both transports, so the difference is what Opus decoding
and encoding, SRTP and SCTP cost. WebRTC's voice-to-voice includes both jitter buffers (the
server's and the caller's), as a browser's would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import httpx
import psutil

from benchmarks.harness import Target, parley_under_test
from benchmarks.report import Report
from benchmarks.voice_latency import summarise
from tests.support.tenants import TenantKeys, create_tenant


async def webrtc_counters(target: Target) -> dict[str, float]:
    """The server's WebRTC counters (reply frames, late frames, underruns, calls by reason)."""
    async with httpx.AsyncClient(base_url=target.http_url, timeout=30) as http:
        text = (await http.get("/metrics")).text
    counters: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("parley_webrtc_") and "_created" not in line.split(" ")[0]:
            name, _, value = line.rpartition(" ")
            counters[name.removeprefix("parley_webrtc_")] = float(value)
    return counters


def counter_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v - before.get(k, 0.0)}


async def run_callers(
    target: Target, tenant: TenantKeys, transport: str, callers: int, turns: int
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    server = psutil.Process(target.pid)
    server.cpu_percent(None)
    if transport == "webrtc":
        argv = ["-m", "benchmarks.webrtc_callers", "--http-url", target.http_url,
                "--secret", tenant.secret_key]  # fmt: skip
    else:
        argv = ["-m", "benchmarks.callers", "--ws-url", target.ws_url,
                "--key", tenant.publishable_key, "--origin", tenant.origin]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        sys.executable, *argv, "--bot-id", str(tenant.bot_id), "-n", str(callers),
        "--turns", str(turns), stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    started = time.perf_counter()
    output, _ = await process.communicate()
    elapsed = time.perf_counter() - started
    cpu = server.cpu_percent(None)
    usage = {
        "server_cpu_percent": round(cpu, 1),
        "cpu_percent_per_session": round(cpu / callers, 2),
        "elapsed_s": round(elapsed, 1),
    }
    return json.loads(output), usage


async def main_async(args: argparse.Namespace) -> None:
    counts = [int(n) for n in (args.sweep or args.callers).split(",")]
    transports = ["webrtc"] if args.webrtc_only else ["websocket", "webrtc"]
    rows: list[list[Any]] = []
    data: dict[str, Any] = {}
    async with parley_under_test(args.profile, knowledge=False) as target:
        assert target.settings.database_url is not None
        tenant = await create_tenant(
            target.settings.database_url.get_secret_value(), name="Bench", plan="business"
        )
        for n in counts:
            for transport in transports:
                before = await webrtc_counters(target)
                results, usage = await run_callers(target, tenant, transport, n, args.turns)
                summary = summarise(target, results) | usage
                summary["server_webrtc"] = counter_delta(before, await webrtc_counters(target))
                summary["server_late_frames"] = summary["server_webrtc"].get(
                    "late_reply_frames_total", 0
                )
                data[f"{transport}:{n}"] = summary
                rows.append([transport, n, summary["turns"], summary["failed_turns"],
                             summary["v2v_p50_ms"], summary["v2v_p95_ms"],
                             summary["late_frames"], summary["server_late_frames"],
                             summary["frames"],
                             summary["server_cpu_percent"],
                             summary["cpu_percent_per_session"]])  # fmt: skip
                brief = {k: v for k, v in summary.items() if k not in ("v2v_ms", "overhead_ms")}
                print(f"{transport} {n} callers: {json.dumps(brief)}", flush=True)
    clean = [n for n in counts if data.get(f"webrtc:{n}", {}).get("server_late_frames") == 0
             and not data[f"webrtc:{n}"]["failed_turns"]]  # fmt: skip
    name = f"webrtc_voice_{args.profile}" + ("_sweep" if args.sweep else "")
    Report(
        name=name,
        title=f"WebRTC and WebSocket voice calls, `{args.profile}` vendor profile",
        columns=[
            "transport",
            "callers",
            "turns",
            "failed",
            "v2v p50 ms",
            "v2v p95 ms",
            "late frames",
            "reply frames",
            "server CPU %",
            "CPU %/session",
        ],  # fmt: skip
        rows=rows,
        data={"profile": args.profile, "results": data},
        notes=[
            "Callers in their own process; the server, the vendor fakes, the database and the "
            "callers share the machine's 2 cores with other work (a busy machine: figures are "
            "indicative, one run each).",
            f"Largest WebRTC count run with no late reply frame and no failed turn: "
            f"{max(clean) if clean else 'none'}.",
            "Late (caller): a reply frame more than 40 ms behind its real-time slot when it "
            "reaches the caller (WebRTC: out of the caller's jitter buffer, which delivers in "
            "bursts). Late (server track): a reply-audio frame the server's track handed to the "
            "encoder more than one frame behind its own clock (parley_webrtc_late_reply_frames_"
            "total), which is what the server controls; the sweep's limit is counted on it.",
        ],
    ).save()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", default="zero", choices=["zero", "cloud"])
    parser.add_argument("--callers", default="1,10")
    parser.add_argument("--sweep", default=None)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--webrtc-only", action="store_true")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
