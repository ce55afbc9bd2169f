"""Voice-to-voice latency: Parley with simulated vendors, callers streaming real speech at
real-time pace over the WebSocket, timed at the client from the end of speech to the first
reply audio frame.

    python -m benchmarks.voice_latency --profile cloud --callers 1 --turns 4
    python -m benchmarks.voice_latency --profile zero --sweep 1,10,50,100,200

Server overhead = voice-to-voice − end-of-turn silence − vendor time on the critical path
(the STT time left after the end of turn, as measured, + time to first token of each model call
before the answer's first token + TTS time to first byte, from the profile's means: the fakes
sleep exactly those).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from collections import Counter
from contextlib import nullcontext
from typing import Any

import psutil

from benchmarks import profiler
from benchmarks.harness import Target, parley_under_test
from benchmarks.report import Report, percentile


def model_calls_before_first_token(target: Target) -> int:
    """The grounded brain calls the model once; the agent twice (a search_knowledge tool
    call, then the answer)."""
    return 1 if target.settings.rag_voice_mode == "grounded" else 2


def vendor_critical_ms(target: Target, stt_final_ms: float = 0.0) -> float:
    """Vendor time on the critical path of one turn: what is left of STT after the end of turn
    (the measured ``stt_final``: chunks are transcribed while the user still speaks), plus each
    model call's time to first token and the TTS time to first byte (profile means)."""
    p = target.profile
    llm = model_calls_before_first_token(target) * p.llm_first_token.base_s
    return stt_final_ms + (llm + p.tts_first_byte.base_s) * 1000


async def run_callers(
    target: Target, callers: int, turns: int
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    me = psutil.Process(target.pid)  # the server, not this process
    rss_before = me.memory_info().rss
    me.cpu_percent(None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.callers", "--ws-url", target.ws_url,
        "--bot-id", str(target.bot_id), "--key", target.publishable_key,
        "--origin", target.origin, "-n", str(callers), "--turns", str(turns),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    # Read while it runs: 200 callers' results overflow a pipe, which would block the child.
    output = asyncio.create_task(process.stdout.read())
    peak_rss = rss_before
    started = time.perf_counter()
    while process.returncode is None:
        try:
            await asyncio.wait_for(process.wait(), 0.5)
        except TimeoutError:
            peak_rss = max(peak_rss, me.memory_info().rss)
    elapsed = time.perf_counter() - started
    cpu = me.cpu_percent(None)
    results = json.loads(await output)
    usage = {
        "server_cpu_percent": round(cpu, 1),
        "rss_per_session_mb": round((peak_rss - rss_before) / callers / 2**20, 2),
        "elapsed_s": round(elapsed, 1),
    }
    return results, usage


def summarise(target: Target, results: list[dict[str, Any]]) -> dict[str, Any]:
    vendors: list[float] = []
    silence = float(target.settings.voice_end_of_turn_silence_ms)
    v2v, overhead, server_total = [], [], []
    late = frames = failed = 0
    errors: list[Any] = []
    for caller in results:
        errors += caller["errors"]
        for turn in caller["turns"]:
            frames += turn["frames"]
            late += turn["late_frames"]
            if turn["voice_to_voice_s"] is None:
                failed += 1
                continue
            ms = turn["voice_to_voice_s"] * 1000
            wait = turn["waterfall"].get("end_of_turn_wait_ms") or silence
            v2v.append(ms)
            vendor = vendor_critical_ms(target, turn["waterfall"].get("stt_final_ms") or 0.0)
            vendors.append(vendor)
            overhead.append(ms - wait - vendor)
            if turn["waterfall"].get("total_ms") is not None:
                server_total.append(turn["waterfall"]["total_ms"])
    stages = {}
    for stage in ("stt_final", "llm_first_token", "first_clause", "tts_first_byte", "first_audio"):
        values = [t["waterfall"].get(f"{stage}_ms") for c in results for t in c["turns"]]
        values = [v for v in values if v is not None]
        stages[stage] = round(percentile(values, 50), 1)
    return {
        "turns": len(v2v), "failed_turns": failed, "errors": errors[:5],
        "error_counts": dict(Counter(str(e.get("code")) for e in errors)),
        "v2v_p50_ms": round(percentile(v2v, 50), 1), "v2v_p95_ms": round(percentile(v2v, 95), 1),
        "v2v_p99_ms": round(percentile(v2v, 99), 1),
        "overhead_p50_ms": round(percentile(overhead, 50), 1),
        "overhead_p95_ms": round(percentile(overhead, 95), 1),
        "server_total_p50_ms": round(percentile(server_total, 50), 1),
        "vendor_critical_ms": round(percentile(vendors, 50), 1), "end_of_turn_silence_ms": silence,
        "late_frames": late, "frames": frames, "stage_p50_ms": stages,
        "v2v_ms": v2v, "overhead_ms": overhead,
    }  # fmt: skip


async def main_async(args: argparse.Namespace) -> None:
    counts = [int(n) for n in args.sweep.split(",")] if args.sweep else [args.callers]
    rows, data = [], {}
    extra = {"PARLEY_RAG_VOICE_MODE": args.voice_mode}
    async with parley_under_test(args.profile, extra_env=extra) as target:
        for n in counts:
            async with profiler.sampling(target.pid) if args.py_spy else nullcontext() as prof:
                results, usage = await run_callers(target, n, args.turns)
            summary = summarise(target, results) | usage
            if prof is not None:
                summary["server_profile"] = prof.summary()
            data[str(n)] = summary
            rows.append([n, summary["turns"], summary["failed_turns"], summary["v2v_p50_ms"],
                         summary["v2v_p95_ms"], summary["v2v_p99_ms"],
                         summary["overhead_p50_ms"], summary["overhead_p95_ms"],
                         summary["late_frames"], summary["server_cpu_percent"],
                         summary["rss_per_session_mb"]])  # fmt: skip
            brief = {k: v for k, v in summary.items() if k not in ("v2v_ms", "overhead_ms")}
            print(f"{n} callers: {json.dumps(brief)}")
    name = f"voice_latency_{args.profile}" + ("_sweep" if args.sweep else "")
    name += "" if args.voice_mode == "grounded" else f"_{args.voice_mode}"
    draw(name, args.profile, counts, data)
    Report(
        name=name,
        title=f"Voice-to-voice latency, `{args.profile}` vendor profile",
        columns=[
            "callers",
            "turns",
            "failed",
            "v2v p50 ms",
            "v2v p95 ms",
            "v2v p99 ms",
            "overhead p50 ms",
            "overhead p95 ms",
            "late frames",
            "server CPU %",
            "RSS/session MB",
        ],  # fmt: skip
        rows=rows,
        data={"profile": args.profile, "results": data},
        notes=[
            f"End-of-turn silence {target.settings.voice_end_of_turn_silence_ms} ms; vendor "
            f"time on the critical path (median) {data[str(counts[0])]['vendor_critical_ms']} ms: "
            f"STT left after the end of turn + {model_calls_before_first_token(target)} model "
            "call(s)' first token + TTS first byte.",
            f"Voice brain: `{args.voice_mode}` (PARLEY_RAG_VOICE_MODE).",
            "Overhead = voice-to-voice − end-of-turn silence − vendor time on the critical path.",
            *profile_notes(data),
            *(
                f"{n} callers: errors by code {summary['error_counts']} (`overflow` / closed_4500: "
                "the server ended a call whose client fell behind reading; with every process on "
                "the same 2 cores, the callers' own process saturates as well)"
                for n, summary in data.items()
                if summary["error_counts"]
            ),
        ],
    ).save()


def profile_notes(data: dict[str, Any]) -> list[str]:
    notes = []
    for n, summary in data.items():
        prof = summary.get("server_profile") or {}
        if prof.get("available"):
            top = "; ".join(f"{name} {share:.0%}" for name, share in
                            list(prof["ours_innermost"].items())[:6])  # fmt: skip
            notes.append(f"Server profile, {n} callers (py-spy): busy {prof['busy_share']:.0%} "
                         f"of samples; busy time by innermost Parley function: {top}.")  # fmt: skip
    return notes


def draw(name: str, profile: str, counts: list[int], data: dict[str, Any]) -> None:
    from benchmarks import plots

    plots.latency_cdf(
        f"{name}_cdf", f"Voice-to-voice latency CDF ({profile} profile)",
        {f"{n} callers": data[str(n)]["v2v_ms"] for n in counts},
    )  # fmt: skip
    first = data[str(counts[0])]["stage_p50_ms"]
    stages = {k: v for k, v in first.items() if not math.isnan(v)}
    title = f"Turn waterfall, {counts[0]} caller(s), {profile} profile"
    plots.waterfall(f"{name}_waterfall", title, stages)
    if len(counts) > 1:
        plots.concurrency_curve(
            f"{name}_curve", f"Server overhead vs callers ({profile} profile)", counts,
            {"overhead p50": [data[str(n)]["overhead_p50_ms"] for n in counts],
             "overhead p95": [data[str(n)]["overhead_p95_ms"] for n in counts]},
        )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", choices=["zero", "cloud"], default="cloud")
    parser.add_argument("--callers", type=int, default=1)
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--voice-mode", choices=["grounded", "agent"], default="grounded")
    parser.add_argument("--py-spy", action="store_true",
                        help="sample the server with py-spy: where its time goes")  # fmt: skip
    parser.add_argument("--sweep", help="comma-separated caller counts, e.g. 1,10,50,100,200")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
