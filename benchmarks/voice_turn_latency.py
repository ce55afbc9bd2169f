"""Server-own voice turn latency: from the end-of-turn decision (speech end + the end-of-turn
silence, which is a setting and excluded) to the first reply audio frame sent, over real
WebSocket turns with speech streamed in real time, against zero-latency provider and brain fakes.

    python -m benchmarks.voice_turn_latency [--turns 20]

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

from benchmarks.report import Report, percentile
from tests.integration.voice.harness import voice_app, voice_client
from tests.support.server import serve_app
from tests.unit.voice.audio_signals import silence, speech_like
from tests.unit.voice.fakes import EchoBrain, ScriptedStt, ToneTts
from voice_server.settings import Settings
from voice_server.voice.services import Providers

STAGES = ("stt_final", "llm_first_token", "first_clause", "tts_first_byte", "first_audio")


async def run(turns: int, data_dir: Path) -> list[dict[str, float]]:
    settings = Settings(_env_file=None, data_dir=data_dir, log_json=True)  # type: ignore[call-arg]
    brain = EchoBrain(reply_text="Our shop opens at nine. It closes at six.")
    providers = Providers(stt=ScriptedStt(default="when do you open"), tts=ToneTts())
    app = voice_app(settings, brain, providers, run_migrations=True)
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="parley-voice-bench-", dir="/tmp") as tmp:
        results = asyncio.run(run(args.turns, Path(tmp)))
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
        name="voice_turn_latency",
        title="Voice turn: end-of-turn decision to each stage (server's own time, fakes at 0 ms)",
        columns=["stage", "median ms", "p95 ms", "max ms", "turns"],
        rows=rows,
        data={"turns": results},
        notes=[
            "Speech streamed in real time over a real WebSocket to uvicorn; embedded PostgreSQL.",
            "STT, brain and TTS are in-process fakes answering at once; the end-of-turn silence "
            "(PARLEY_VOICE_END_OF_TURN_SILENCE_MS, 700 ms by default) is not included.",
            "first_audio = total: the first 20 ms reply frame handed to the socket.",
        ],
    )
    report.save()


if __name__ == "__main__":
    main()
