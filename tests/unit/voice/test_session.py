"""The pipeline end to end with fakes of the providers: no sockets, no database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from tests.unit.voice.audio_signals import silence, speech_like
from tests.unit.voice.fakes import EchoBrain, MemoryStore, ScriptedStt, ToneTts, make_bot
from voice_server.voice.config import VoiceConfig
from voice_server.voice.manager import SessionManager
from voice_server.voice.protocol import ServerEvent
from voice_server.voice.providers.base import ProviderBadRequest, ProviderUnavailable
from voice_server.voice.session import Engines, VoiceSession

# webrtcvad holds "speech" ~120 ms into a pause, so inner pauses here are 300 ms.
CONFIG = VoiceConfig(end_of_turn_silence_ms=400, chunk_pause_ms=100, barge_in_min_ms=200)


@dataclass
class Client:
    """The far end of the session: records every event and audio frame in order."""

    received: list[tuple[str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    cleared: int = 0

    async def send_event(self, event: ServerEvent) -> None:
        self.received.append(("json", event.to_wire()))
        self.changed.set()

    async def send_audio(self, data: bytes) -> None:
        self.received.append(("audio", data))
        self.changed.set()

    def clear_audio(self) -> None:
        self.cleared += 1

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [p for k, p in self.received if k == "json" and (kind is None or p["type"] == kind)]

    def audio(self) -> list[bytes]:
        return [p for k, p in self.received if k == "audio"]

    async def wait_for(self, kind: str, count: int = 1) -> dict[str, Any]:
        async with asyncio.timeout(10):
            while len(self.events(kind)) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.events(kind)[count - 1]


@dataclass
class Rig:
    session: VoiceSession
    client: Client
    store: MemoryStore
    stt: ScriptedStt
    tts: ToneTts
    brain: EchoBrain
    manager: SessionManager


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    store, stt, tts, brain = MemoryStore(), ScriptedStt(), ToneTts(), EchoBrain()
    client = Client()
    manager = SessionManager()
    session = VoiceSession(
        Engines(stt=stt, tts=tts, brain=brain, store=store, fallback_tts=ToneTts()),
        CONFIG,
        make_bot(),
        client,
        input_rate=16_000,
        output_rate=24_000,
    )
    async with manager.run(session):
        yield Rig(session, client, store, stt, tts, brain, manager)
    assert manager.live_tasks() == set()


def say(session: VoiceSession, *parts_ms: int) -> None:
    """Speech of the given lengths separated by 300 ms inner pauses, then end-of-turn silence."""
    session.feed_audio(silence(200))
    for i, ms in enumerate(parts_ms):
        if i:
            session.feed_audio(silence(300))
        session.feed_audio(speech_like(ms))
    session.feed_audio(silence(600))


async def test_a_turn_is_heard_answered_spoken_and_stored(rig: Rig) -> None:
    rig.stt.texts = ["hello world"]
    say(rig.session, 600)
    await rig.client.wait_for("audio.end")
    kinds = [p["type"] for k, p in rig.client.received if k == "json"]
    assert kinds[:3] == ["session.started", "vad.start", "vad.end"]
    order = [kinds.index(k) for k in ("transcript.final", "assistant.delta", "audio.start")]
    assert order == sorted(order)
    assert rig.client.events("transcript.final")[0]["text"] == "hello world"
    assert "".join(e["text"] for e in rig.client.events("assistant.delta")).strip() == (
        "You said: hello world."
    )
    frames = rig.client.audio()
    assert frames
    assert {len(f) % (24_000 // 50 * 2) for f in frames} == {0}  # whole 20 ms frames
    metrics = await rig.client.wait_for("metrics")
    for stage in ("stt_final", "llm_first_token", "first_clause", "tts_first_byte", "total"):
        assert metrics[f"{stage}_ms"] is not None, stage
    assert metrics["end_of_turn_wait_ms"] == pytest.approx(400, abs=20)
    await asyncio.sleep(0.05)
    assert [(m["role"], m["content"]) for m in rig.store.messages] == [
        ("user", "hello world"),
        ("assistant", "You said: hello world."),
    ]
    assert rig.store.messages[1]["answered"] is True  # the brain's verdict, for analytics
    (turn,) = rig.store.turns
    assert turn.total_ms is not None
    assert turn.user_message_id
    assert turn.assistant_message_id
    assert not turn.interrupted


async def test_inner_pauses_are_transcribed_while_the_user_still_speaks(rig: Rig) -> None:
    rig.stt.texts = ["what are", "your opening", "hours"]
    rig.session.feed_audio(silence(200) + speech_like(500) + silence(300) + speech_like(500))
    partial = await rig.client.wait_for("transcript.partial")
    assert partial["text"] == "what are"
    assert rig.client.events("vad.end") == []  # the user is still speaking
    rig.session.feed_audio(silence(300) + speech_like(400) + silence(600))
    final = await rig.client.wait_for("transcript.final")
    assert final["text"] == "what are your opening hours"
    assert rig.brain.requests[0].user_text == "what are your opening hours"


async def test_barge_in_stops_the_audio_and_stores_what_was_heard(rig: Rig) -> None:
    rig.brain.reply_text = (
        "Our shop is open from nine to six on weekdays. On Saturdays we open at ten. "
        "On Sundays we are closed, but the online shop never sleeps."
    )
    say(rig.session, 600)
    await rig.client.wait_for("audio.start")
    await asyncio.sleep(0.4)
    rig.session.feed_audio(speech_like(400))
    interrupted = await rig.client.wait_for("interrupted")
    at = len(rig.client.received)
    await asyncio.sleep(0.3)
    after = [k for k, _ in rig.client.received[at:] if k == "audio"]
    assert after == []
    assert rig.client.events("audio.end") == []
    heard = interrupted["played_text"]
    assert heard
    assert rig.brain.reply_text.startswith(heard.split()[0])
    assert len(heard) < len(rig.brain.reply_text)
    await asyncio.sleep(0.05)
    assistant = [m for m in rig.store.messages if m["role"] == "assistant"]
    assert assistant == [
        {
            "id": assistant[0]["id"],
            "role": "assistant",
            "content": heard,
            "interrupted": True,
            "answered": None,
        }  # fmt: skip
    ]
    assert rig.store.turns[0].interrupted
    # The interruption is the next turn.
    rig.session.feed_audio(silence(600))
    await rig.client.wait_for("transcript.final", count=2)


async def test_a_cough_does_not_interrupt(rig: Rig) -> None:
    rig.brain.reply_text = "One moment please, I am looking that up for you right now."
    say(rig.session, 600)
    await rig.client.wait_for("audio.start")
    rig.session.feed_audio(speech_like(100) + silence(600))
    await rig.client.wait_for("metrics")
    await asyncio.sleep(0.05)
    assert rig.client.events("interrupted") == []
    assert rig.store.turns
    assert not rig.store.turns[0].interrupted


async def test_a_transient_stt_failure_is_retried_once(rig: Rig) -> None:
    rig.stt.failures = [ProviderUnavailable("scripted", "503")]
    rig.stt.texts = ["hello"]
    say(rig.session, 600)
    final = await rig.client.wait_for("transcript.final")
    assert final["text"] == "hello"
    assert rig.client.events("error") == []


async def test_a_failing_stt_gets_an_apology_and_the_next_turn_works(rig: Rig) -> None:
    rig.stt.failures = [ProviderBadRequest("scripted", "bad audio")]
    say(rig.session, 600)
    error = await rig.client.wait_for("error")
    assert error["code"] == "provider_bad_request"
    assert error["stage"] == "stt"
    assert not error["fatal"]
    await rig.client.wait_for("audio.end")
    assert rig.session.engines.fallback_tts.spoken == [  # type: ignore[union-attr]
        "Sorry, something went wrong on my side. Please try again."
    ]
    rig.stt.texts = ["are you there"]
    say(rig.session, 600)
    final = await rig.client.wait_for("transcript.final", count=2)
    assert final["text"] == "are you there"
    await rig.client.wait_for("audio.end", count=2)


async def test_tts_down_means_an_apology_from_the_fallback_voice(rig: Rig) -> None:
    rig.tts.failures = [ProviderUnavailable("scripted", "down"), ProviderUnavailable("x", "down")]
    say(rig.session, 600)
    error = await rig.client.wait_for("error")
    assert (error["code"], error["stage"]) == ("provider_unavailable", "tts")
    await rig.client.wait_for("audio.end")
    assert rig.client.audio()


async def test_a_transient_brain_failure_before_any_text_is_retried(rig: Rig) -> None:
    rig.brain.failures = [ProviderUnavailable("llm", "502")]
    say(rig.session, 600)
    await rig.client.wait_for("audio.end")
    assert rig.client.events("error") == []
    assert len(rig.brain.requests) == 2


async def test_stereo_48k_input_is_understood(rig: Rig) -> None:
    store, client = MemoryStore(), Client()
    session = VoiceSession(
        Engines(stt=ScriptedStt(), tts=ToneTts(), brain=EchoBrain(), store=store),
        CONFIG,
        make_bot(),
        client,
        input_rate=48_000,
        channels=2,
    )
    async with rig.manager.run(session):
        mono = np.frombuffer(
            silence(200, 48_000) + speech_like(600, 48_000) + silence(600, 48_000), "<i2"
        )
        stereo = np.stack([mono, mono], axis=1).reshape(-1).astype("<i2").tobytes()
        for i in range(0, len(stereo), 3840):
            session.feed_audio(stereo[i : i + 3840])
        await client.wait_for("audio.start")
        assert client.events("audio.start")[0]["sample_rate"] == 24_000


async def test_closing_mid_reply_leaves_no_task_and_keeps_what_was_said(rig: Rig) -> None:
    rig.brain.reply_text = "This is a long answer that will not be finished. " * 5
    rig.stt.texts = ["tell me everything"]
    say(rig.session, 600)
    await rig.client.wait_for("audio.start")
    await rig.session.close("client_closed")
    await asyncio.sleep(0)
    assert rig.session.tasks == set()
    roles = [(m["role"], m["interrupted"], m["answered"]) for m in rig.store.messages]
    assert roles == [("user", False, None), ("assistant", True, None)]  # cut off: no verdict
    assert next(iter(rig.store.sessions.values()))["ended"] == "client_closed"
