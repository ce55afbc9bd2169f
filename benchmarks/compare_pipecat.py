"""Parley and a Pipecat pipeline side by side: the same callers (real eSpeak speech at real-time
pace over the WebSocket, timed at the client), the same simulated vendors (one process, both
servers pointed at it) and the same speech, against each server in turn.

    python -m benchmarks.compare_pipecat --profile cloud --callers 1 --turns 4
    python -m benchmarks.compare_pipecat --profile zero --callers 10

Pipecat (``pipecat-ai``, pinned below) pins its own versions of libraries Parley also uses, so
it lives in a virtualenv of its own, ``.venv-pipecat``, made on the first run; its bot
(``benchmarks/pipecat_bot.py``) runs from there as a child process and speaks Parley's voice
protocol through a custom serializer, so the callers are unchanged.

Server overhead = voice-to-voice − end-of-turn silence − vendor time on the critical path,
computed exactly as benchmarks.voice_latency does, from each server's own ``metrics`` event
(STT time left after the end of turn, measured; model calls' first token and TTS first byte
from the profile's means).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

from benchmarks.harness import parley_under_test, stop, wait_ready
from benchmarks.report import Report, percentile
from benchmarks.vendors import PROFILES, Vendors, vendors_process
from benchmarks.voice_latency import run_callers, summarise
from tests.fakes.latency import LatencyProfile
from tests.support.server import free_port

REPO = Path(__file__).resolve().parent.parent
PIPECAT_VENV = REPO / ".venv-pipecat"
PIPECAT_VERSION = "1.14.0"
# websocket: the FastAPI WebSocket transport; groq: Whisper STT and the LLM; deepgram: Aura TTS;
# silero: the VAD. uvicorn serves the FastAPI app (the websocket extra brings FastAPI only).
PIPECAT_REQUIREMENTS = (f"pipecat-ai[websocket,groq,deepgram,silero]=={PIPECAT_VERSION}", "uvicorn")
# Pipecat's Silero VAD defaults (pipecat.audio.vad.vad_analyzer): confidence 0.7, start 0.2 s,
# stop 0.2 s, min volume 0.6. The turn ends user_speech_timeout after the VAD's stop.
PIPECAT_VAD_STOP_S = 0.2
PIPECAT_USER_SPEECH_TIMEOUT_S = 0.6  # SpeechTimeoutUserTurnStopStrategy's default
LLM_MODEL = "llama-3.3-70b-versatile"  # Parley's default llm_model
TTS_VOICE = "aura-2-thalia-en"  # Parley's default Deepgram voice
# How the bots use the knowledge base (Parley's rag_voice_mode). grounded: Parley searches once
# as the turn ends and calls the model once; the Pipecat bot calls the model once with the same
# prompt (the empty knowledge base's passages). agent: both call the model twice (a
# search_knowledge tool call, then the answer); Pipecat's tool answers what Parley's does.
MODES = ("grounded", "agent")


@dataclass(frozen=True)
class Side:
    """One server under test, shaped like benchmarks.harness.Target for run_callers/summarise."""

    name: str
    ws_url: str
    bot_id: UUID
    origin: str
    publishable_key: str
    profile: LatencyProfile
    pid: int
    end_of_turn_ms: int
    mode: str
    settings: Any = field(init=False)

    def __post_init__(self) -> None:
        # summarise() reads the silence, and the number of model calls, from the settings.
        settings = SimpleNamespace(
            voice_end_of_turn_silence_ms=self.end_of_turn_ms, rag_voice_mode=self.mode
        )
        object.__setattr__(self, "settings", settings)


# --- the Pipecat virtualenv ---------------------------------------------------------------


def pipecat_python(venv: Path = PIPECAT_VENV) -> Path:
    return venv / "bin" / "python"


def pipecat_installed(venv: Path = PIPECAT_VENV) -> bool:
    """Whether ``venv`` holds the pinned Pipecat and uvicorn."""
    if not pipecat_python(venv).exists():
        return False
    site = list(venv.glob("lib/python3*/site-packages"))
    return any((s / f"pipecat_ai-{PIPECAT_VERSION}.dist-info").is_dir()
               and (s / "uvicorn").is_dir() for s in site)  # fmt: skip


def ensure_pipecat_venv(venv: Path = PIPECAT_VENV) -> Path:
    """Create ``venv`` with the pinned Pipecat when it is missing; return its python."""
    python = pipecat_python(venv)
    if pipecat_installed(venv):
        return python
    print(f"installing pipecat-ai {PIPECAT_VERSION} into {venv} (first run only)", flush=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    (venv / ".gitignore").write_text("*\n")  # never committed, whatever the repo ignores
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", *PIPECAT_REQUIREMENTS], check=True
    )  # fmt: skip
    if not pipecat_installed(venv):
        raise RuntimeError(f"pipecat-ai {PIPECAT_VERSION} did not install into {venv}")
    return python


def bot_prompt(mode: str) -> str:
    """The system prompt Parley's brain gives a bot with no prompt of its own and an empty
    knowledge base, in ``mode``; the Pipecat bot gets the same."""
    from rag.agent import format_passages, system_prompt
    from rag.grounded import grounded_prompt

    if mode == "agent":
        return system_prompt("", "voice")
    return grounded_prompt("", "voice", format_passages([]))


def pipecat_bot_config(vendors: Vendors, *, mode: str, end_of_turn_ms: int,
                       turn: str = "timeout") -> dict[str, Any]:  # fmt: skip
    """What benchmarks.pipecat_bot needs (its Config), pointed at the shared vendor fakes.
    ``turn``: ``timeout`` ends the turn after ``end_of_turn_ms`` of silence, like Parley;
    ``smart`` is Pipecat's default, the Smart Turn v3 model after the VAD's 0.2 s stop."""
    timeout = 0.0 if turn == "smart" else round(end_of_turn_ms / 1000 - PIPECAT_VAD_STOP_S, 3)
    return {
        # Pipecat's Groq services take the OpenAI-compatible base, as on api.groq.com.
        "stt_url": vendors.groq_audio_url.rstrip("/") + "/openai/v1",
        "stt_key": vendors.groq_audio_key,
        "llm_url": vendors.chat_url.rstrip("/") + "/openai/v1",
        "llm_key": vendors.chat_key,
        "llm_model": LLM_MODEL,
        "tts_url": vendors.deepgram_url.rstrip("/"),
        "tts_key": vendors.deepgram_key,
        "tts_voice": TTS_VOICE,
        "system_prompt": bot_prompt(mode),
        "tool": mode == "agent",
        "user_speech_timeout_s": timeout,
        "output_frame_ms": 20,
        "turn": turn,
    }


@asynccontextmanager
async def pipecat_under_test(
    vendors: Vendors, profile: LatencyProfile, *, python: Path, config: Mapping[str, Any],
    end_of_turn_ms: int,
) -> AsyncIterator[Side]:  # fmt: skip
    """Run the Pipecat bot from its virtualenv until /healthz answers; yield it as a Side."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="pipecat-bench-") as tmp:
        config_path = Path(tmp) / "config.json"
        config_path.write_text(json.dumps(dict(config)))
        process = await asyncio.create_subprocess_exec(
            str(python), "-m", "benchmarks.pipecat_bot", "--port", str(port),
            "--config", str(config_path), cwd=REPO,
        )  # fmt: skip
        try:
            await wait_ready(f"http://127.0.0.1:{port}/healthz", process, "the pipecat bot")
            yield Side(
                name="Pipecat", ws_url=f"ws://127.0.0.1:{port}/v1/voice/ws", bot_id=uuid4(),
                origin="http://localhost", publishable_key="unused", profile=profile,
                pid=process.pid, end_of_turn_ms=end_of_turn_ms,
                mode="agent" if config["tool"] else "grounded",
            )  # fmt: skip
        finally:
            await stop(process)


# --- Parley on the shared vendors --------------------------------------------------------


@asynccontextmanager
async def parley_on(vendors: Vendors, profile: LatencyProfile, *, end_of_turn_ms: int,
                    mode: str, knowledge: bool = True) -> AsyncIterator[Side]:  # fmt: skip
    """Parley (benchmarks.harness) on vendor fakes that are already running, so that Pipecat
    reaches the same ones, with the end-of-turn silence and voice mode set; ``knowledge``
    seeds the knowledge base as voice_latency does (else it stays empty)."""
    extra = {"PARLEY_VOICE_END_OF_TURN_SILENCE_MS": str(end_of_turn_ms),
             "PARLEY_RAG_VOICE_MODE": mode}  # fmt: skip
    async with parley_under_test(vendors.profile, vendors=vendors, extra_env=extra,
                                 knowledge=knowledge) as target:  # fmt: skip
        yield Side(
            name="Parley", ws_url=target.ws_url, bot_id=target.bot_id, origin=target.origin,
            publishable_key=target.publishable_key, profile=profile, pid=target.pid,
            end_of_turn_ms=end_of_turn_ms, mode=mode,
        )  # fmt: skip


# --- the comparison ----------------------------------------------------------------------


def overhead_ratio(parley: Mapping[str, Any], pipecat: Mapping[str, Any], key: str) -> float:
    """Pipecat's figure divided by Parley's (how many times lower Parley's is); NaN when
    Parley's is not positive."""
    ours, theirs = float(parley[key]), float(pipecat[key])
    return round(theirs / ours, 2) if ours > 0 else float("nan")


def rows_for(summaries: Mapping[str, Mapping[str, Any]], callers: int) -> list[list[Any]]:
    return [
        [name, callers, s["turns"], s["failed_turns"], s["v2v_p50_ms"], s["v2v_p95_ms"],
         s["overhead_p50_ms"], s["overhead_p95_ms"], s["vendor_critical_ms"],
         s["end_of_turn_silence_ms"], s["late_frames"], s["frames"], s["server_cpu_percent"],
         s["rss_per_session_mb"]]
        for name, s in summaries.items()
    ]  # fmt: skip


COLUMNS = [
    "server", "callers", "turns", "failed", "v2v p50 ms", "v2v p95 ms", "overhead p50 ms",
    "overhead p95 ms", "vendor critical ms", "end-of-turn silence ms", "late frames", "frames",
    "server CPU %", "RSS/session MB",
]  # fmt: skip


def v2v_by_turn(results: list[dict[str, Any]]) -> list[float]:
    """Median voice-to-voice of each turn number across callers (a growing backlog shows)."""
    by_turn: dict[int, list[float]] = {}
    for caller in results:
        for index, turn in enumerate(caller["turns"]):
            if turn["voice_to_voice_s"] is not None:
                by_turn.setdefault(index, []).append(turn["voice_to_voice_s"] * 1000)
    return [round(percentile(by_turn[i], 50), 1) for i in sorted(by_turn)]


async def measure(side: Side, callers: int, turns: int) -> dict[str, Any]:
    results, usage = await run_callers(side, callers, turns)  # type: ignore[arg-type]
    summary = summarise(side, results) | usage  # type: ignore[arg-type]
    summary["v2v_p50_by_turn_ms"] = v2v_by_turn(results)
    brief = {k: v for k, v in summary.items() if k not in ("v2v_ms", "overhead_ms")}
    print(f"{side.name}, {callers} callers: {json.dumps(brief)}", flush=True)
    return summary


async def main_async(args: argparse.Namespace) -> None:
    python = ensure_pipecat_venv()
    profile = PROFILES[args.profile]
    summaries: dict[str, dict[str, Any]] = {}
    async with vendors_process(args.profile) as vendors:
        config = pipecat_bot_config(vendors, mode=args.mode, end_of_turn_ms=args.end_of_turn_ms,
                                    turn=args.pipecat_turn)  # fmt: skip
        pipecat_wait_ms = (
            round(PIPECAT_VAD_STOP_S * 1000)
            if args.pipecat_turn == "smart"
            else args.end_of_turn_ms
        )
        sides = [
            lambda: parley_on(vendors, profile, end_of_turn_ms=args.end_of_turn_ms,
                              mode=args.mode, knowledge=not args.empty_knowledge),
            lambda: pipecat_under_test(vendors, profile, python=python, config=config,
                                       end_of_turn_ms=pipecat_wait_ms),
        ]  # fmt: skip
        if args.pipecat_first:
            sides.reverse()
        for start in sides:
            async with start() as side:
                summaries[side.name] = await measure(side, args.callers, args.turns)
    summaries = {name: summaries[name] for name in ("Parley", "Pipecat")}
    save(args, summaries, config["system_prompt"])


TURN_NOTES = {
    "timeout": "End of turn: Parley waits {silence} ms of silence (webrtcvad); Pipecat uses "
    "Silero VAD with its default VADParams (confidence 0.7, start_secs 0.2, stop_secs {stop}, "
    "min_volume 0.6) and SpeechTimeoutUserTurnStopStrategy with user_speech_timeout "
    "{timeout:g} s, so both wait {silence} ms. Pipecat 1.x's default stop strategy is the Smart "
    "Turn v3 model instead, which decides from the audio when a turn is complete (see "
    "--pipecat-turn smart).",
    "smart": "End of turn: Parley waits {silence} ms of silence (webrtcvad); Pipecat uses its "
    "defaults: Silero VAD (confidence 0.7, start_secs 0.2, stop_secs {stop}, min_volume 0.6), "
    "then the Smart Turn v3 model decides from the audio whether the turn is complete (else it "
    "waits for more speech, up to 3 s). Pipecat's end-of-turn silence is counted as {stop} s: "
    "the model's inference and any longer wait count as its overhead, and its Whisper request "
    "starts at the VAD stop, so its STT time is on the critical path. Not like for like.",
}

MODE_NOTES = {
    "grounded": "Both bots call the model once per turn with the same system prompt (Parley's "
    "grounded prompt; for Pipecat with an empty knowledge base's search result in it). Parley "
    "also runs a hybrid retrieval in PostgreSQL as the turn ends (on the critical path, counted "
    "as its overhead) and puts the passages found in its prompt; Pipecat has no retrieval and "
    "its prompt is fixed.",
    "agent": "Both bots get the same system prompt and a search_knowledge tool (two model calls "
    "per turn). Parley's tool runs hybrid retrieval on its knowledge base in PostgreSQL; "
    "Pipecat's returns the empty knowledge base's 'no passage' text without any search.",
}


def save(args: argparse.Namespace, summaries: dict[str, dict[str, Any]], prompt: str) -> None:
    from benchmarks import plots

    parley, pipecat = summaries["Parley"], summaries["Pipecat"]
    ratio = {key: overhead_ratio(parley, pipecat, key)
             for key in ("overhead_p50_ms", "overhead_p95_ms")}  # fmt: skip
    name = f"compare_pipecat_{args.profile}" + ("_agent" if args.mode == "agent" else "")
    name += "_smartturn" if args.pipecat_turn == "smart" else ""
    plots.latency_cdf(
        f"{name}_cdf",
        f"Voice-to-voice, Parley vs Pipecat ({args.profile} profile, {args.callers} callers)",
        {side: s["v2v_ms"] for side, s in summaries.items()},
    )
    knowledge = (
        "empty (both prompts identical)"
        if args.empty_knowledge
        else "the retrieval evaluation's 24 documents, as in voice_latency"
    )
    notes = [
        f"Server overhead, Pipecat ÷ Parley: {ratio['overhead_p50_ms']}× at p50, "
        f"{ratio['overhead_p95_ms']}× at p95 (target: at least 1.5×).",
        "Overhead = voice-to-voice − end-of-turn silence − vendor time on the critical path "
        "(STT left after the end of turn, measured by each server; "
        f"{1 if args.mode == 'grounded' else 2} model call(s)' first token + TTS first byte, "
        "profile means), as in benchmarks.voice_latency.",
        f"pipecat-ai {PIPECAT_VERSION}: FastAPI WebSocket transport with a serializer for "
        "Parley's protocol; GroqSTTService (segmented Whisper), GroqLLMService, "
        "DeepgramHttpTTSService, all on the same vendor fakes as Parley. The HTTP TTS service "
        "uses Deepgram's REST /v1/speak, as Parley's adapter does; Pipecat's usual "
        "DeepgramTTSService streams over Deepgram's WebSocket API, which the fake does not "
        "speak.",
        TURN_NOTES[args.pipecat_turn].format(
            silence=args.end_of_turn_ms,
            stop=PIPECAT_VAD_STOP_S,
            timeout=args.end_of_turn_ms / 1000 - PIPECAT_VAD_STOP_S,
        ),  # fmt: skip
        MODE_NOTES[args.mode] + f" Parley's knowledge base: {knowledge}.",
        "Reply audio: Parley paces 20 ms frames at real time plus a 150 ms lead; Pipecat's "
        "WebSocket output sends its 20 ms frames at twice real time, so its frames are late "
        "only when its event loop falls behind. Parley's STT transcribes chunks while the user "
        "speaks; Pipecat's Whisper STT sends the whole utterance when the VAD stops, during the "
        "turn-stop wait.",
        "Servers run one after the other against one vendor-fake process; CPU is the server "
        "process's while its callers ran. Each server is one process serving every session from "
        "one event loop (Pipecat: uvicorn + FastAPI, a pipeline per WebSocket, as in its "
        "FastAPI WebSocket examples).",
        "Voice-to-voice median by turn number (ms): "
        + "; ".join(f"{side} {s['v2v_p50_by_turn_ms']}" for side, s in summaries.items()),
        "The Pipecat bot's aiohttp pool drops idle TTS connections after 4 s (default 15 s), "
        "before the fakes' uvicorn closes them at 5 s: otherwise a POST on a closing "
        "connection fails some turns, an artefact of the fakes.",
    ]
    for side, s in summaries.items():
        if s["failed_turns"] or any(v < 0 for v in s["v2v_ms"]):
            notes.append(
                f"{side} fell behind real time: {s['failed_turns']} turn(s) got no reply before "
                "the caller's next question, and a reply that comes while the next question is "
                "spoken counts against that turn (negative voice-to-voice). Its figures measure "
                "a backlog, not a steady state."
            )
    Report(
        name=name,
        title=f"Parley vs Pipecat, `{args.profile}` vendor profile, {args.callers} caller(s), "
        f"{args.mode} mode",
        columns=COLUMNS,
        rows=rows_for(summaries, args.callers),
        data={
            "profile": args.profile,
            "callers": args.callers,
            "turns": args.turns,
            "end_of_turn_ms": args.end_of_turn_ms,
            "mode": args.mode,
            "pipecat_turn": args.pipecat_turn,
            "parley_knowledge": "empty" if args.empty_knowledge else "rag_eval (24 documents)",
            "pipecat_version": PIPECAT_VERSION,
            "overhead_ratio": ratio,
            "system_prompt": prompt,
            "results": summaries,
        },  # fmt: skip
        notes=notes,
    ).save()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", choices=["zero", "cloud"], default="cloud")
    parser.add_argument("--callers", type=int, default=1)
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument(
        "--end-of-turn-ms", type=int,
        default=round((PIPECAT_VAD_STOP_S + PIPECAT_USER_SPEECH_TIMEOUT_S) * 1000),
        help="silence that ends a turn, on both servers (default: Pipecat's 0.2 + 0.6 s)",
    )  # fmt: skip
    parser.add_argument(
        "--mode", choices=MODES, default="grounded",
        help="how the bots use the knowledge base (Parley's PARLEY_RAG_VOICE_MODE; default "
        "grounded, Parley's default for voice)",
    )  # fmt: skip
    parser.add_argument(
        "--empty-knowledge", action="store_true",
        help="leave Parley's knowledge base empty, so that both prompts are identical (default: "
        "seeded with the retrieval evaluation's 24 documents, as voice_latency does)",
    )  # fmt: skip
    parser.add_argument(
        "--pipecat-turn", choices=["timeout", "smart"], default="timeout",
        help="Pipecat's turn end: timeout (the same silence as Parley) or smart (Pipecat's "
        "default, the Smart Turn v3 model)",
    )  # fmt: skip
    parser.add_argument("--pipecat-first", action="store_true", help="measure Pipecat first")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
