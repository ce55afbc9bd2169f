from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tests.unit.voice.audio_signals import silence, speech_like
from voice_server.voice.audio import Framer, frame_bytes
from voice_server.voice.policies import SilenceEndOfTurn
from voice_server.voice.vad import (
    SegmenterConfig,
    SpeechChunk,
    SpeechEnded,
    SpeechStarted,
    UtteranceDropped,
    UtteranceSegmenter,
    VadEvent,
    WebRtcVad,
)

FRAME = frame_bytes(16_000, 20)


@dataclass
class LoudIsSpeech:
    """A deterministic classifier for exact timings: any non-zero frame is speech."""

    def is_speech(self, frame: bytes) -> bool:
        return any(frame)


def run(segmenter: UtteranceSegmenter, pcm: bytes) -> list[VadEvent]:
    events: list[VadEvent] = []
    for i, frame in enumerate(Framer(FRAME).feed(pcm)):
        events += segmenter.feed(frame, i * 20.0)
    return events


def segmenter(**overrides: int) -> UtteranceSegmenter:
    values = {"speech_start_ms": 60, "min_utterance_ms": 200, "pre_roll_ms": 100}
    values.update(overrides)
    silence_ms = values.pop("end_of_turn_ms", 600)
    return UtteranceSegmenter(
        SegmenterConfig(**values), LoudIsSpeech(), SilenceEndOfTurn(silence_ms)
    )


def test_turn_ends_after_the_configured_silence_with_times_from_the_frames() -> None:
    events = run(segmenter(), silence(400) + speech_like(1000) + silence(800))
    started = [e for e in events if isinstance(e, SpeechStarted)]
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    assert [e.at_ms for e in started] == [400]
    assert len(ended) == 1
    assert ended[0].ended_ms == 1400
    assert ended[0].decided_ms == 2000  # 600 ms of silence later
    assert ended[0].voiced_ms == 1000


def test_first_chunk_carries_the_pre_roll() -> None:
    events = run(segmenter(), silence(400) + speech_like(500) + silence(700))
    chunks = [e for e in events if isinstance(e, SpeechChunk)]
    assert chunks[0].start_ms == 300  # 100 ms pre-roll before speech at 400 ms
    assert chunks[0].pcm[: 100 * 32] == silence(100)


def test_inner_pauses_cut_chunks_while_the_user_still_speaks() -> None:
    speech = speech_like(400) + silence(250) + speech_like(400) + silence(250) + speech_like(300)
    events = run(segmenter(chunk_pause_ms=200), silence(200) + speech + silence(700))
    chunks = [e for e in events if isinstance(e, SpeechChunk)]
    ended = next(e for e in events if isinstance(e, SpeechEnded))
    assert [c.final for c in chunks] == [False, False, False, True]
    # Every spoken chunk was ready long before the end of the turn; nothing is left for the end.
    assert all(c.end_ms <= ended.decided_ms - 400 for c in chunks[:3])
    assert chunks[3].pcm == b""
    assert sum(len(c.pcm) for c in chunks) >= len(speech_like(1100))


def test_a_short_pause_does_not_end_the_turn() -> None:
    pcm = silence(100) + speech_like(400) + silence(400) + speech_like(400) + silence(700)
    events = run(segmenter(), pcm)
    assert len([e for e in events if isinstance(e, SpeechEnded)]) == 1


def test_a_click_shorter_than_the_start_threshold_is_not_speech() -> None:
    events = run(segmenter(speech_start_ms=100), silence(200) + speech_like(40) + silence(1000))
    assert events == []


def test_speech_shorter_than_the_minimum_utterance_is_dropped() -> None:
    events = run(segmenter(), silence(200) + speech_like(120) + silence(800))
    assert isinstance(events[-1], UtteranceDropped)
    assert not any(isinstance(e, SpeechEnded) for e in events)


def test_real_webrtcvad_finds_the_speech() -> None:
    seg = UtteranceSegmenter(SegmenterConfig(), WebRtcVad(2), SilenceEndOfTurn(500))
    events = run(seg, silence(500) + speech_like(800) + silence(1000))
    started = next(e for e in events if isinstance(e, SpeechStarted))
    ended = next(e for e in events if isinstance(e, SpeechEnded))
    assert 440 <= started.at_ms <= 560
    assert 1200 <= ended.ended_ms <= 1500


def test_the_energy_gate_ends_speech_where_the_voice_stops() -> None:
    """webrtcvad alone reports speech for a while over the silence after a voice (its
    hangover); with the gate the end of speech is where the voice stopped."""
    pcm = silence(500) + speech_like(800) + silence(1000)

    def ended_ms(vad: WebRtcVad) -> float:
        seg = UtteranceSegmenter(SegmenterConfig(), vad, SilenceEndOfTurn(500))
        return next(e for e in run(seg, pcm) if isinstance(e, SpeechEnded)).ended_ms

    gated, ungated = ended_ms(WebRtcVad(2)), ended_ms(WebRtcVad(2, gate=0))
    assert gated == 1300  # the buzz ends at 1300 ms
    assert ungated > gated


def test_the_energy_gate_keeps_quieter_speech_in_a_loud_voice() -> None:
    vad = WebRtcVad(2)
    loud = Framer(FRAME).feed(speech_like(400))
    quieter = Framer(FRAME).feed(
        (np.frombuffer(speech_like(400), "<i2") // 4).astype("<i2").tobytes()
    )
    assert all(vad.is_speech(f) for f in loud[3:])
    assert all(vad.is_speech(f) for f in quieter[3:])  # -12 dB is still the voice


def test_on_a_noisy_line_the_gate_does_not_cut_the_speech_short() -> None:
    rng = np.random.default_rng(0)
    clean = np.frombuffer(silence(500) + speech_like(800) + silence(1000), "<i2")
    noisy = np.clip(clean + rng.normal(0, 300, clean.size), -32768, 32767).astype("<i2").tobytes()
    seg = UtteranceSegmenter(SegmenterConfig(), WebRtcVad(2), SilenceEndOfTurn(500))
    ended = next(e for e in run(seg, noisy) if isinstance(e, SpeechEnded))
    assert 1300 <= ended.ended_ms <= 1400  # the buzz ends at 1300 ms
