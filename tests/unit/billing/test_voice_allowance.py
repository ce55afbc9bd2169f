"""What a billed voice second is, and a session that runs out of voice minutes mid-reply
(voice_server.voice.allowance and its hooks in the session; fakes, no sockets, no database)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from billing.ledger import record_usage
from billing.quota import Allowance, QuotaService
from tests.unit.voice.audio_signals import silence, speech_like
from tests.unit.voice.fakes import EchoBrain, MemoryStore, ScriptedStt, ToneTts, make_bot
from tests.unit.voice.test_session import Client
from voice_server.voice.allowance import (
    SessionAllowance,
    UsageRecorder,
    VoiceQuota,
    billed_seconds,
    usage_key,
)
from voice_server.voice.config import VoiceConfig
from voice_server.voice.manager import SessionManager
from voice_server.voice.session import Engines, VoiceSession
from voice_server.voice.store import TurnRow

CONFIG = VoiceConfig(end_of_turn_silence_ms=400, chunk_pause_ms=100, barge_in_min_ms=200)
T0 = datetime(2026, 11, 26, 12, tzinfo=UTC)
SENTENCES = [f"This is sentence number {n} of a long answer about opening hours." for n in range(8)]


def turn(speech_ms: float | None, played_ms: float | None) -> TurnRow:
    started = T0 if speech_ms is not None else None
    ended = T0 + timedelta(milliseconds=speech_ms) if speech_ms is not None else None
    return TurnRow(ordinal=0, speech_started_at=started, speech_ended_at=ended, played_ms=played_ms)


@pytest.mark.parametrize(
    ("speech_ms", "played_ms", "billed"),
    [
        (1200, 300, 2),  # 1.5 s of talk: rounded up
        (1500, 500, 2),  # exactly 2 s: not a second more
        (1500, 501, 3),
        (None, 2400, 3),  # no speech timestamps: the reply alone
        (800, None, 1),  # nothing played (an interrupted reply before its first frame)
        (0, 0, 0),
    ],
)
def test_a_turn_bills_the_users_speech_plus_the_heard_reply_rounded_up(
    speech_ms: float | None, played_ms: float | None, billed: int
) -> None:
    assert billed_seconds(turn(speech_ms, played_ms)) == billed


def test_each_turn_has_its_own_ledger_key() -> None:
    from uuid import uuid4

    session = uuid4()
    assert usage_key(session, 3) == f"voice:{session}:3"
    assert usage_key(session, 3) != usage_key(session, 4)
    assert usage_key(session, 3) != usage_key(uuid4(), 3)


def test_only_a_capped_unmetered_plan_gets_bookkeeping() -> None:
    capped = Allowance("tiny", "voice_minutes_per_month", 60.0, 20.0, metered=False)
    allowance = SessionAllowance.admitted(capped, "bye")
    assert allowance is not None
    assert allowance.remaining_s == 40.0
    unlimited = Allowance("unlimited", "voice_minutes_per_month", None, 500.0, metered=False)
    metered = Allowance("pro", "voice_minutes_per_month", 60.0, 500.0, metered=True)
    assert SessionAllowance.admitted(unlimited, "bye") is None
    assert SessionAllowance.admitted(metered, "bye") is None


def test_the_allowance_is_spent_by_recorded_turns_and_the_turn_in_flight() -> None:
    allowance = SessionAllowance(plan="tiny", limit_s=60.0, used_s=50.0, notice="bye")
    assert not allowance.spent(8.9)  # bills 9 s of the 10 left
    assert allowance.spent(9.1)  # bills 10 s: nothing left after it
    allowance.charge(turn(2000, 2500))  # 5 s
    assert allowance.remaining_s == 5.0
    assert not allowance.spent(3.5)
    assert allowance.spent(4.2)
    event = allowance.exhausted_event()
    assert event["type"] == "error"
    assert event["code"] == "quota_exceeded"
    assert event["fatal"] is True
    assert (event["limit_name"], event["limit"], event["unit"]) == (
        "voice_minutes_per_month",
        1.0,
        "minutes",
    )


def test_billing_implements_the_protocols_voice_uses() -> None:
    # Static check (mypy): billing's quota service and ledger fit what voice injects.
    quota: type[VoiceQuota] = QuotaService
    recorder: UsageRecorder = record_usage
    assert callable(recorder)
    assert hasattr(quota, "check")


@dataclass
class Rig:
    session: VoiceSession
    client: Client
    store: MemoryStore
    tts: ToneTts
    manager: SessionManager


NOTICE = "Your voice minutes are used up."


def capped_session(left_s: float, brain: EchoBrain, tts: ToneTts) -> Rig:
    """A session with ``left_s`` voice seconds left of its plan."""
    store, client = MemoryStore(), Client()
    allowance = SessionAllowance(plan="tiny", limit_s=60.0, used_s=60.0 - left_s, notice=NOTICE)
    session = VoiceSession(
        Engines(stt=ScriptedStt(texts=["when are you open"]), tts=tts, brain=brain, store=store),
        CONFIG,
        make_bot(),
        client,
        input_rate=16_000,
        output_rate=24_000,
        allowance=allowance,
    )
    return Rig(session, client, store, tts, SessionManager())


async def run_out_of_minutes(left_s: float, brain: EchoBrain) -> Rig:
    """A session with ``left_s`` voice seconds left, asked one question."""
    rig = capped_session(left_s, brain, ToneTts(ms_per_char=4.0))
    async with rig.manager.run(rig.session):
        rig.session.feed_audio(silence(200) + speech_like(600) + silence(600))
        async with asyncio.timeout(20):
            await rig.session.finished.wait()
    assert rig.manager.live_tasks() == set()
    return rig


async def test_running_out_mid_reply_finishes_the_sentence_says_the_notice_and_ends() -> None:
    rig = await run_out_of_minutes(3.0, EchoBrain(reply_text=" ".join(SENTENCES)))
    # Each sentence is about a quarter second of audio: some were said, not all, then the notice.
    spoken = rig.tts.spoken
    assert spoken[-1] == "Your voice minutes are used up."
    said = spoken[:-1]
    assert 1 <= len(said) < len(SENTENCES)
    assert said == SENTENCES[: len(said)]  # whole sentences, in order

    received = rig.client.received
    notice_at = received.index(("json", rig.client.events("notice")[0]))
    audio_after_s = sum(len(p) for k, p in received[notice_at:] if k == "audio") / 2 / 24_000
    # All of the notice's audio (4 ms per character) comes after its event.
    assert audio_after_s >= 0.004 * len("Your voice minutes are used up.") - 0.02
    kinds = [p["type"] for k, p in received if k == "json"]
    tail = kinds[kinds.index("audio.end") :]
    assert tail == ["audio.end", "metrics", "error", "session.ended"]
    assert rig.client.events("error")[0]["code"] == "quota_exceeded"
    assert rig.client.events("session.ended")[0]["reason"] == "quota_exhausted"

    # The turn is stored with what was heard, notice included; the session with its reason.
    (row,) = rig.store.turns
    assert billed_seconds(row) >= 3
    assistant = [m["content"] for m in rig.store.messages if m["role"] == "assistant"]
    assert assistant[0].startswith(SENTENCES[0])
    assert SENTENCES[-1] not in assistant[0]
    assert assistant[0].endswith("Your voice minutes are used up.")
    assert [s["ended"] for s in rig.store.sessions.values()] == ["quota_exhausted"]


async def test_with_no_time_left_for_an_answer_only_the_notice_is_said() -> None:
    brain = EchoBrain(reply_text="We open at nine.")
    rig = await run_out_of_minutes(1.0, brain)  # the question alone bills the last second
    assert rig.tts.spoken == ["Your voice minutes are used up."]
    assert rig.client.events("session.ended")[0]["reason"] == "quota_exhausted"


async def test_a_notice_cut_off_by_a_barge_in_is_said_in_the_next_turn() -> None:
    rig = capped_session(2.0, EchoBrain(reply_text=" ".join(SENTENCES)), ToneTts(ms_per_char=10))
    async with rig.manager.run(rig.session):
        rig.session.feed_audio(silence(200) + speech_like(600) + silence(600))
        await rig.client.wait_for("notice")  # queued after the first sentence
        await rig.client.wait_for("audio.start")
        await asyncio.sleep(0.2)
        rig.session.feed_audio(speech_like(400))  # the user talks over the first sentence
        await rig.client.wait_for("interrupted")
        assert not rig.session.finished.is_set()
        rig.session.feed_audio(silence(600))
        async with asyncio.timeout(20):
            await rig.session.finished.wait()
    assert rig.manager.live_tasks() == set()
    # Turn 0: a sentence and the notice, cut off. Turn 1: no answer, only the notice, in full.
    assert rig.tts.spoken == [SENTENCES[0], NOTICE, NOTICE]
    first, second = rig.store.turns
    assert first.interrupted
    assert not second.interrupted
    assert [n["turn"] for n in rig.client.events("notice")] == [0, 1]
    assert rig.client.events("session.ended")[0]["reason"] == "quota_exhausted"
    assistant = [m["content"] for m in rig.store.messages if m["role"] == "assistant"]
    assert assistant[-1] == NOTICE


async def test_another_session_spending_the_minutes_leaves_this_one_only_the_notice() -> None:
    rig = capped_session(30.0, EchoBrain(reply_text=" ".join(SENTENCES)), ToneTts(ms_per_char=4))
    refreshes = 0

    async def others_used() -> float:
        nonlocal refreshes
        refreshes += 1
        return 59.5  # meanwhile another call of the tenant used all but half a second

    assert rig.session.allowance is not None
    rig.session.allowance.others = others_used
    async with rig.manager.run(rig.session):
        rig.session.feed_audio(silence(200) + speech_like(600) + silence(600))
        async with asyncio.timeout(20):
            await rig.session.finished.wait()
    assert refreshes == 1  # once, as the turn started
    assert rig.tts.spoken == [NOTICE]
    assert rig.client.events("session.ended")[0]["reason"] == "quota_exhausted"


async def test_a_failed_refresh_keeps_the_last_known_figure() -> None:
    async def ledger_down() -> float:
        raise ConnectionError("database unreachable")

    allowance = SessionAllowance("tiny", 60.0, 20.0, "bye", others=ledger_down)
    await allowance.refresh()
    assert allowance.used_s == 20.0
