"""The media adapters without a network: decoded Opus frames to pipeline PCM, reply PCM to
paced 20 ms track frames, and the barge-in flush."""

from __future__ import annotations

import fractions

import numpy as np
import pytest
from av import AudioFrame

from tests.unit.voice.audio_signals import dominant_frequency, tone
from voice_server.voice.webrtc.inbound import CallerAudio
from voice_server.voice.webrtc.reply_track import (
    FRAME_BYTES,
    FRAME_SAMPLES,
    REPLY_RATE,
    ReplyBuffer,
    ReplyTrack,
)


def decoded_opus_frame(pcm48k_mono: bytes, pts: int) -> AudioFrame:
    """What aiortc's Opus decoder hands over: 48 kHz stereo s16, 20 ms."""
    mono = np.frombuffer(pcm48k_mono, "<i2")
    stereo = np.stack([mono, mono], axis=1).reshape(1, -1)
    frame = AudioFrame.from_ndarray(stereo, format="s16", layout="stereo")
    frame.sample_rate = 48_000
    frame.pts = pts
    frame.time_base = fractions.Fraction(1, 48_000)
    return frame


def test_caller_audio_becomes_16khz_mono_with_its_pitch_kept() -> None:
    inbound = CallerAudio()
    signal = tone(1000, rate=48_000, freq=440)
    pcm = b"".join(
        inbound.feed(decoded_opus_frame(signal[i : i + 1920], i // 2))
        for i in range(0, len(signal), 1920)
    )
    pcm += inbound.flush()
    assert abs(len(pcm) // 2 - 16_000) <= 32  # one second at 16 kHz, give or take the filter
    assert abs(dominant_frequency(pcm, 16_000) - 440) < 5
    assert inbound.frames_in == 50


def test_reply_buffer_frames_audio_and_pads_the_last_frame() -> None:
    buffer = ReplyBuffer()
    buffer.push(b"\x01\x00" * (FRAME_SAMPLES + 10))
    first, second, third = buffer.next_frame(), buffer.next_frame(), buffer.next_frame()
    assert len(first) == len(second) == len(third) == FRAME_BYTES
    assert second[:20] == b"\x01\x00" * 10
    assert set(second[20:]) == {0}
    assert set(third) == {0}
    assert buffer.audio_frames_out == 2
    assert buffer.underruns == 1  # silence while the reply had not ended


def test_flush_drops_the_reply_so_the_next_frame_is_silence() -> None:
    buffer = ReplyBuffer()
    buffer.push(b"\x10\x00" * FRAME_SAMPLES * 10)
    assert buffer.next_frame() != bytes(FRAME_BYTES)
    assert buffer.flush() == FRAME_SAMPLES * 9
    assert buffer.next_frame() == bytes(FRAME_BYTES)
    assert buffer.underruns == 0  # after a flush silence is expected


def test_the_buffer_is_bounded() -> None:
    buffer = ReplyBuffer(max_buffered_s=0.1)
    buffer.push(bytes(REPLY_RATE * 2))  # a whole second
    assert buffer.buffered_ms == 100
    assert buffer.dropped_bytes == REPLY_RATE * 2 - int(0.1 * REPLY_RATE) * 2


async def test_the_track_paces_frames_by_its_own_clock() -> None:
    now = [100.0]
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)
        now[0] += delay

    track = ReplyTrack(clock=lambda: now[0], sleep=sleep)
    track.push(b"\x05\x00" * FRAME_SAMPLES * 3)
    first = await track.recv()
    assert (first.pts, first.sample_rate, first.samples) == (0, REPLY_RATE, FRAME_SAMPLES)
    second = await track.recv()
    assert second.pts == FRAME_SAMPLES
    assert slept == [pytest.approx(0.02)]
    now[0] += 0.1  # the loop was busy for 100 ms: the next reply frame is late
    await track.recv()
    assert track.late_frames == 1
    assert track.max_lateness_s > 0.02
    assert len(slept) == 1  # a late track catches up without sleeping
    track.stop()
