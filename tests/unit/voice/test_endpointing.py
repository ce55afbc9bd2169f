"""The evidence end-of-turn policy: each rule alone, then through the segmenter on stream time."""

from __future__ import annotations

import pytest

from tests.unit.voice.audio_signals import silence, speech_like
from tests.unit.voice.test_vad import LoudIsSpeech
from voice_server.voice.audio import Framer, frame_bytes
from voice_server.voice.config import VoiceConfig
from voice_server.voice.endpointing import EvidenceEndOfTurn, ends_mid_phrase
from voice_server.voice.engine.listener import TurnTaking
from voice_server.voice.policies import SilenceEndOfTurn
from voice_server.voice.silero import SileroVad
from voice_server.voice.vad import (
    SegmenterConfig,
    SpeechChunk,
    SpeechEnded,
    UtteranceSegmenter,
    VadEvent,
    WebRtcVad,
)

FRAME = frame_bytes(16_000, 20)


def policy() -> EvidenceEndOfTurn:
    return EvidenceEndOfTurn(open_ms=250, complete_ms=500, unknown_ms=700, hold_ms=1500)


@pytest.mark.parametrize(
    ("text", "mid"),
    [
        ("can I book a table for", True),
        ("I would like to pay by card and", True),
        ("my order number is um", True),
        ("what are your opening hours", False),
        ("four people on Friday.", False),
        ("", False),
    ],
)
def test_a_transcript_that_stops_on_a_word_needing_more_is_mid_phrase(text: str, mid: bool) -> None:
    assert ends_mid_phrase(text) is mid


def test_a_short_pause_only_opens_the_decision() -> None:
    assert policy().decide(240, "what are your opening hours") is None


def test_a_complete_transcript_ends_the_turn_after_the_complete_pause() -> None:
    eot = policy()
    assert eot.decide(480, "what are your opening hours") is None
    assert eot.decide(500, "what are your opening hours") == "transcript_complete"


def test_a_transcript_ending_mid_phrase_holds_the_turn_until_the_fallback() -> None:
    eot = policy()
    assert eot.decide(1480, "can I book a table for") is None
    assert eot.decide(1500, "can I book a table for") == "fallback"


def test_without_a_transcript_the_turn_ends_after_the_plain_silence() -> None:
    eot = policy()
    assert eot.decide(680, "") is None
    assert eot.decide(700, "") == "no_transcript"


def test_knobs_out_of_order_are_refused() -> None:
    with pytest.raises(ValueError, match="open_ms"):
        EvidenceEndOfTurn(open_ms=600, complete_ms=500)


def run(seg: UtteranceSegmenter, pcm: bytes, hint_at: dict[int, str]) -> list[VadEvent]:
    """Feed 20 ms frames; after a chunk is cut, the 'STT' answers at once with ``hint_at``."""
    events: list[VadEvent] = []
    for i, frame in enumerate(Framer(FRAME).feed(pcm)):
        for event in seg.feed(frame, i * 20.0):
            events.append(event)
            if isinstance(event, SpeechChunk) and not event.final and event.index in hint_at:
                seg.hint = hint_at[event.index]
    return events


def segmenter() -> UtteranceSegmenter:
    config = SegmenterConfig(speech_start_ms=60, min_utterance_ms=200, chunk_pause_ms=200)
    return UtteranceSegmenter(config, LoudIsSpeech(), policy())


def ended(events: list[VadEvent]) -> list[SpeechEnded]:
    return [e for e in events if isinstance(e, SpeechEnded)]


def test_a_pause_after_a_mid_phrase_chunk_does_not_end_the_turn() -> None:
    # "can I book a table for" · 600 ms pause · "four people": one turn, ended by its words.
    pcm = silence(200) + speech_like(1000) + silence(600) + speech_like(800) + silence(1000)
    events = run(segmenter(), pcm, {0: "can i book a table for", 1: "for four people"})
    [turn] = ended(events)
    assert turn.ended_ms == 2600
    assert turn.rule == "transcript_complete"
    assert turn.decided_ms == 3100  # 500 ms after the last word, not 700


def test_the_same_pause_after_a_complete_sentence_ends_the_turn() -> None:
    pcm = silence(200) + speech_like(1000) + silence(600) + speech_like(800) + silence(1000)
    events = run(segmenter(), pcm, {0: "what are your opening hours"})
    first = ended(events)[0]
    assert first.ended_ms == 1200
    assert (first.decided_ms, first.rule) == (1700, "transcript_complete")


def test_a_transcript_that_does_not_cover_the_last_words_is_not_trusted() -> None:
    # The 'STT' answered for the first chunk only: the second is judged with no transcript.
    pcm = silence(200) + speech_like(1000) + silence(300) + speech_like(600) + silence(1000)
    events = run(segmenter(), pcm, {0: "what are your opening hours"})
    [turn] = ended(events)
    assert turn.ended_ms == 2100
    assert (turn.decided_ms - turn.ended_ms, turn.rule) == (700, "no_transcript")


def test_from_config_builds_the_chosen_vad_and_end_of_turn() -> None:
    config = VoiceConfig(
        vad="silero",
        end_of_turn="evidence",
        end_of_turn_silence_ms=800,
        end_of_turn_open_ms=300,
        end_of_turn_complete_ms=450,
        end_of_turn_hold_ms=1200,
    )
    taking = TurnTaking.from_config(config)
    assert isinstance(taking.vad, SileroVad)
    eot = taking.end_of_turn
    assert isinstance(eot, EvidenceEndOfTurn)
    assert (eot.open_ms, eot.complete_ms, eot.unknown_ms, eot.hold_ms) == (300, 450, 800, 1200)
    plain = TurnTaking.from_config(VoiceConfig())
    assert isinstance(plain.vad, WebRtcVad)
    assert isinstance(plain.end_of_turn, SilenceEndOfTurn)


def test_a_bot_can_choose_the_evidence_end_of_turn() -> None:
    config = VoiceConfig().for_bot({"voice": {"end_of_turn": "evidence", "vad": "silero"}})
    assert (config.end_of_turn, config.vad) == ("evidence", "silero")
