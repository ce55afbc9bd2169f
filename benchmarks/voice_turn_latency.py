"""Server-own voice turn latency: from the end-of-turn decision (speech end + the end-of-turn
silence, which is a setting and excluded) to the first reply audio frame sent, over real
WebSocket turns with speech streamed in real time.

    python -m benchmarks.voice_turn_latency [--turns 20] [--mode vendor-fakes|in-process]

``vendor-fakes`` (default): the whole app (``create_app``) with the Groq STT, Groq chat
(LangChain) and Deepgram TTS adapters, their official SDKs pointed at the local vendor fakes
at zero latency. ``in-process``: the voice plugin alone with protocol fakes and a test brain,
i.e. the pipeline's own overhead.

Needs the dev extras (it reuses the test harness and fakes). Starts its own embedded
PostgreSQL in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

import asyncpg
from litestar import Litestar
from pydantic import SecretStr

from benchmarks.report import Report, percentile
from tests.fakes.deepgram import deepgram_server
from tests.fakes.groq_audio import groq_audio_server
from tests.fakes.groq_chat import FakeGroq, Text
from tests.fakes.latency import ZERO
from tests.integration.voice.harness import voice_app, voice_client
from tests.support.server import serve_app
from tests.unit.voice.audio_signals import silence, speech_like
from tests.unit.voice.fakes import EchoBrain, ScriptedStt, ToneTts
from voice_server.app import create_app
from voice_server.settings import Settings
from voice_server.voice.services import Providers

STAGES = ("stt_final", "llm_first_token", "first_clause", "tts_first_byte", "first_audio")


REPLY = "Our shop opens at nine. It closes at six."


async def run(turns: int, data_dir: Path, mode: str) -> list[dict[str, float]]:
    settings = Settings(_env_file=None, data_dir=data_dir, log_json=True)  # type: ignore[call-arg]
    if mode == "in-process":
        brain = EchoBrain(reply_text=REPLY)
        providers = Providers(stt=ScriptedStt(default="when do you open"), tts=ToneTts())
        return await converse(voice_app(settings, brain, providers, run_migrations=True), turns)
    chat = FakeGroq(script=[Text(REPLY) for _ in range(turns + 5)])
    async with (
        groq_audio_server(text="when do you open", latency=ZERO) as groq,
        deepgram_server(audio="tone", latency=ZERO) as deepgram,
        chat.serve() as chat_url,
    ):
        settings = settings.model_copy(
            update={
                "groq_api_key": SecretStr(groq.api_key),
                "groq_base_url": groq.base_url,
                "deepgram_api_key": SecretStr(deepgram.api_key),
                "deepgram_base_url": deepgram.base_url,
                "llm_provider": "groq",
                "llm_api_key": SecretStr(chat.api_key),
                "llm_base_url": chat_url,
            }
        )
        return await converse(create_app(settings), turns)


async def converse(app: Litestar, turns: int) -> list[dict[str, float]]:
    settings: Settings = app.state.settings
    async with serve_app(app) as url:
        conn = await asyncpg.connect(app.state.database.url)
        try:
            tenant = await conn.fetchval(
                "INSERT INTO tenants (name, slug) VALUES ('Bench', 'bench-' || "
                "substr(md5(random()::text), 1, 8)) RETURNING id"
            )
            bot = await conn.fetchval(
                "INSERT INTO bots (tenant_id, name) VALUES ($1, 'Bench') RETURNING id", tenant
            )
        finally:
            await conn.close()
        results: list[dict[str, float]] = []
        async with voice_client(url.replace("http://", "ws://") + "/v1/voice/ws") as client:
            await client.start(bot)
            await client.stream(silence(300))
            for n in range(1, turns + 1):
                await client.stream(
                    speech_like(700) + silence(settings.voice_end_of_turn_silence_ms + 300)
                )
                metrics = await client.wait_for("metrics", count=n)
                await client.wait_for("audio.end", count=n)
                results.append({k: metrics[f"{k}_ms"] for k in (*STAGES, "total")})
                print(f"turn {n:2d}: total {metrics['total_ms']:.1f} ms")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--mode", choices=["vendor-fakes", "in-process"], default="vendor-fakes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="parley-voice-bench-", dir="/tmp") as tmp:
        results = asyncio.run(run(args.turns, Path(tmp), args.mode))
    rows = []
    for stage in (*STAGES, "total"):
        values = [r[stage] for r in results if r[stage] is not None]
        rows.append(
            [
                stage,
                round(statistics.median(values), 1),
                round(percentile(values, 95), 1),
                round(max(values), 1),
                len(values),
            ]
        )
    report = Report(
        name=f"voice_turn_latency_{args.mode.replace('-', '_')}",
        title=f"Voice turn: end-of-turn decision to each stage ({args.mode}, fakes at 0 ms)",
        columns=["stage", "median ms", "p95 ms", "max ms", "turns"],
        rows=rows,
        data={"turns": results},
        notes=[
            "Speech streamed in real time over a real WebSocket to uvicorn; embedded PostgreSQL.",
            "vendor-fakes: Groq STT + Groq chat + Deepgram TTS adapters and SDKs against local "
            "fakes at zero latency; in-process: protocol fakes. The end-of-turn silence "
            "(PARLEY_VOICE_END_OF_TURN_SILENCE_MS, 700 ms by default) is not included.",
            "first_audio = total: the first 20 ms reply frame handed to the socket.",
        ],
    )
    report.save()


if __name__ == "__main__":
    main()
