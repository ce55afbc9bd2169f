"""The turn engine and its session on a fake clock: pacing, the greeting, the idle timeout, the
maximum length, injected VAD and policies. No sockets, no database, no real sleeps."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import pytest

from tests.unit.voice.audio_signals import silence, speech_like
from tests.unit.voice.fake_clock import FakeClock
from tests.unit.voice.fakes import EchoBrain, MemoryStore, ScriptedStt, ToneTts, make_bot
from tests.unit.voice.test_session import Client
from voice_server.voice.config import VoiceConfig
from voice_server.voice.engine import Lifetime, TurnTaking
from voice_server.voice.manager import SessionManager
from voice_server.voice.session import Engines, VoiceSession
from voice_server.voice.vad import WebRtcVad

CONFIG = VoiceConfig(end_of_turn_silence_ms=400, chunk_pause_ms=100, barge_in_min_ms=200)


@dataclass
class Rig:
    session: VoiceSession
    client: Client
    store: MemoryStore
    stt: ScriptedStt
    tts: ToneTts
    brain: EchoBrain
    clock: FakeClock

    def kinds(self) -> list[str]:
        return [p["type"] for k, p in self.client.received if k == "json"]

    async def until(self, kind: str, count: int = 1) -> dict[str, object]:
        await self.clock.run_until(lambda: len(self.client.events(kind)) >= count)
        return self.client.events(kind)[count - 1]


@dataclass
class Setup:
    greeting: str = ""
    lifetime: Lifetime = field(default_factory=Lifetime)
    turn_taking: TurnTaking | None = None


@pytest.fixture
def setup() -> Setup:
    return Setup()


@pytest.fixture
async def rig(setup: Setup) -> AsyncIterator[Rig]:
    store, stt, tts, brain = MemoryStore(), ScriptedStt(), ToneTts(), EchoBrain()
    clock, client, manager = FakeClock(), Client(), SessionManager()
    session = VoiceSession(
        Engines(stt=stt, tts=tts, brain=brain, store=store, fallback_tts=ToneTts(), clock=clock),
        CONFIG,
        replace(make_bot(), greeting=setup.greeting),
        client,
        input_rate=16_000,
        output_rate=24_000,
        lifetime=setup.lifetime,
        turn_taking=setup.turn_taking,
    )
    async with manager.run(session):
        yield Rig(session, client, store, stt, tts, brain, clock)
    assert manager.live_tasks() == set()


def say(session: VoiceSession, speech_ms: int = 600) -> None:
    session.feed_audio(silence(200) + speech_like(speech_ms) + silence(600))


async def test_a_reply_is_paced_on_the_injected_clock_without_real_sleeps(rig: Rig) -> None:
    rig.stt.texts = ["hello"]
    rig.brain.reply_text = "We open at nine."  # 16 characters: 160 ms of tone
    started = time.monotonic()
    say(rig.session)
    await rig.until("audio.end")
    audio = b"".join(rig.client.audio())
    assert len(audio) == 24_000 * 2 * 160 // 1000
    # The client was paced: it got the audio over (fake) real time, not at once.
    assert rig.clock.elapsed >= 0.159
    metrics = await rig.until("metrics")
    assert metrics["end_of_turn_wait_ms"] == pytest.approx(400, abs=20)
    assert metrics["first_audio_ms"] is not None
    assert time.monotonic() - started < 5  # nothing waited for the pacing for real
    await rig.clock.settle()
    (turn,) = rig.store.turns
    assert turn.played_ms == pytest.approx(160, abs=1)
    assert turn.speech_started_at is not None
    assert turn.speech_ended_at is not None
    # Stored timestamps come from the injected clock's calendar.
    assert turn.speech_started_at.year == 2026


@pytest.mark.parametrize("setup", [Setup(greeting="Hello! I am the shop's assistant.")])
async def test_the_bot_speaks_its_greeting_first_and_stores_it_as_the_first_turn(
    rig: Rig,
) -> None:
    await rig.until("audio.end")
    assert rig.kinds()[:3] == ["session.started", "assistant.done", "audio.start"]
    done = rig.client.events("assistant.done")[0]
    assert done == {
        "type": "assistant.done",
        "turn": 0,
        "text": "Hello! I am the shop's assistant.",
    }
    assert rig.tts.spoken == ["Hello!", "I am the shop's assistant."]
    await rig.until("metrics")
    await rig.clock.settle()
    assert [(m["role"], m["content"]) for m in rig.store.messages] == [
        ("assistant", "Hello! I am the shop's assistant.")
    ]
    (turn,) = rig.store.turns
    assert (turn.ordinal, turn.user_message_id, turn.interrupted) == (0, None, False)
    assert turn.speech_started_at is None  # no user speech: only the heard greeting is billed
    # The user's first question is turn 1, answered with the greeting in its history.
    rig.stt.texts = ["when do you open"]
    say(rig.session)
    final = await rig.until("transcript.final")
    assert final["turn"] == 1
    await rig.until("audio.end", count=2)
    assert [m.content for m in rig.brain.requests[0].history] == [
        "Hello! I am the shop's assistant."
    ]


@pytest.mark.parametrize(
    "setup", [Setup(greeting="Welcome to the shop, how can I help you today?")]
)
async def test_the_caller_can_talk_over_the_greeting(rig: Rig) -> None:
    await rig.until("audio.start")
    await rig.clock.advance(0.2)
    rig.session.feed_audio(speech_like(400))
    interrupted = await rig.until("interrupted")
    assert interrupted["turn"] == 0
    assert rig.client.cleared >= 1  # the transport was told to drop the audio it holds
    rig.session.feed_audio(silence(600))
    final = await rig.until("transcript.final")
    assert final["turn"] == 1


@pytest.mark.parametrize("setup", [Setup(lifetime=Lifetime(idle_timeout_s=60))])
async def test_a_session_without_audio_ends_after_the_idle_timeout(rig: Rig) -> None:
    await rig.clock.advance(59)
    assert not rig.session.finished.is_set()
    rig.session.feed_audio(silence(100))  # audio, even silence, keeps it alive
    await rig.clock.advance(59)
    assert not rig.session.finished.is_set()
    await rig.clock.advance(2)
    assert rig.session.finished.is_set()
    assert rig.session.end_reason == "idle_timeout"
    await rig.session.close()
    assert rig.client.events("session.ended") == [
        {"type": "session.ended", "reason": "idle_timeout"}
    ]
    (stored,) = rig.store.sessions.values()
    assert stored["ended"] == "idle_timeout"


@pytest.mark.parametrize("setup", [Setup(lifetime=Lifetime(max_length_s=1800, idle_timeout_s=60))])
async def test_the_maximum_length_ends_the_call_with_a_spoken_notice(rig: Rig) -> None:
    for _ in range(36):  # a caller who keeps talking is never idle
        rig.session.feed_audio(silence(100))
        await rig.clock.advance(50)
    await rig.clock.run_until(rig.session.finished.is_set)
    assert rig.session.end_reason == "max_duration"
    notice = rig.client.events("notice")[0]
    assert notice == {
        "type": "notice",
        "code": "max_duration",
        "turn": None,
        "text": "This call has reached its maximum length. Goodbye!",
    }
    assert rig.kinds()[-3:] == ["notice", "audio.start", "audio.end"]
    assert rig.client.audio()
    assert rig.clock.elapsed >= 1800


class CountingVad:
    """Any frame louder than a whisper is speech; counts what it was asked."""

    def __init__(self) -> None:
        self.frames = 0
        self._inner = WebRtcVad(2)

    def is_speech(self, frame: bytes) -> bool:
        self.frames += 1
        return self._inner.is_speech(frame)


@dataclass
class QuickEnd:
    """Ends a turn after 100 ms of silence, and remembers the hints it saw."""

    hints: list[str] = field(default_factory=list)

    def turn_ended(self, silence_ms: float, voiced_ms: float, hint: str) -> bool:
        self.hints.append(hint)
        return silence_ms >= 100


class NeverInterrupt:
    def interrupts(self, voiced_ms: float, hint: str) -> bool:
        return False


VAD, END = CountingVad(), QuickEnd()


@pytest.mark.parametrize("setup", [Setup(turn_taking=TurnTaking(VAD, END, NeverInterrupt()))])
async def test_the_injected_vad_and_policies_decide(rig: Rig) -> None:
    rig.brain.reply_text = "One moment please, I am looking that up for you right now."
    say(rig.session)
    metrics_wait = await rig.until("vad.end")
    assert VAD.frames == (200 + 600 + 600) // 20
    assert END.hints  # the end-of-turn policy was asked
    await rig.until("audio.start")
    rig.session.feed_audio(speech_like(600) + silence(300))  # would interrupt by default
    await rig.until("audio.end")
    assert rig.client.events("interrupted") == []
    metrics = await rig.until("metrics")
    assert metrics["end_of_turn_wait_ms"] == pytest.approx(100, abs=20)
    assert metrics_wait["utterance"] == 0
