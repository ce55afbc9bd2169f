"""What call recording adds to a voice turn: the same in-process session (protocol fakes, a
test brain, real clock) with and without a recorder, turn after turn, compared on the server's
own first-audio time (end-of-turn decision to the first reply frame sent).

    python -m benchmarks.recording_overhead [--turns 30]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.report import Report, summary_ms
from tests.unit.voice.audio_signals import silence, speech_like
from tests.unit.voice.fakes import EchoBrain, MemoryStore, ScriptedStt, ToneTts, make_bot
from tests.unit.voice.test_session import CONFIG, Client
from voice_server.brain import BotProfile
from voice_server.voice.manager import SessionManager
from voice_server.voice.recording_store import RecordingStore
from voice_server.voice.recordings import CallRecordings
from voice_server.voice.session import Engines, VoiceSession


class _NoRows:
    """Stands in for the pool: the benchmark keeps the file and skips the row."""

    async def execute(self, *args: Any) -> None:
        return None


async def turns(n: int, root: Path | None) -> list[float]:
    stt = ScriptedStt()
    bot = make_bot()
    recordings = None
    if root is not None:
        bot = BotProfile(id=bot.id, tenant_id=bot.tenant_id, name=bot.name,
                         config={"recording": {"enabled": True}})  # fmt: skip
        recordings = CallRecordings(_NoRows(), RecordingStore(root))  # type: ignore[arg-type]
    client = Client()
    session = VoiceSession(
        Engines(stt=stt, tts=ToneTts(), brain=EchoBrain(reply_text="We open at seven."),
                store=MemoryStore(), fallback_tts=ToneTts(), recordings=recordings),
        CONFIG, bot, client, input_rate=16_000, output_rate=24_000,
    )  # fmt: skip
    firsts: list[float] = []
    async with SessionManager().run(session):
        for i in range(n):
            stt.texts = [f"question {i}"]
            # Real time: 20 ms frames of speech, then the end-of-turn silence.
            audio = silence(200) + speech_like(600) + silence(600)
            for start in range(0, len(audio), 640):
                session.feed_audio(audio[start : start + 640])
                await asyncio.sleep(0.02)
            metrics = await client.wait_for("metrics")
            firsts.append(metrics["first_audio_ms"] / 1000)
            client.received.clear()
            await asyncio.sleep(0.3)
    return firsts


async def run(n: int) -> Report:
    with tempfile.TemporaryDirectory(prefix="parley-rec-") as tmp:
        without = summary_ms(await turns(n, None))
        with_recording = summary_ms(await turns(n, Path(tmp)))
    results = {"without recording": without, "with recording (stereo Ogg/Opus)": with_recording}
    for name, value in results.items():
        print(name, value)
    return Report(
        name="recording_overhead",
        title="Voice turn first audio with and without call recording (in-process)",
        columns=["session", "n", "p50 ms", "p95 ms", "p99 ms"],
        rows=[[k, v["n"], v["p50_ms"], v["p95_ms"], v["p99_ms"]] for k, v in results.items()],
        data={"results": results},
        notes=[
            "One in-process voice session per row (protocol fakes for STT and TTS, a test brain, "
            "real clock); speech fed in 20 ms frames in real time; first_audio_ms as the session "
            "reports it (end-of-turn decision to the first reply frame sent).",
            "The recorder encodes in its own thread; measured on the shared 2-core machine "
            "while other sessions were running.",
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(run(args.turns)).save()


if __name__ == "__main__":
    main()
