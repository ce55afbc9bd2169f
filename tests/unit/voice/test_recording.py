"""The call recorder: one Ogg/Opus file, caller left and bot right (or mixed), each chunk at its
time on the call's timeline, written off the event loop, closed once."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import av
import numpy as np
import pytest

from voice_server.voice.recording import CallRecorder


def tone(seconds: float, rate: int, freq: float = 440.0, level: float = 8000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * math.pi * freq * t)).astype(np.int16).tobytes()


def decode(path: Path) -> tuple[np.ndarray, int]:
    """(channels × samples float array at 48 kHz, channel count)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "opus"
        chunks = [frame.to_ndarray() for frame in container.decode(stream)]
        channels = stream.codec_context.channels
    data = np.concatenate(chunks, axis=1)
    if data.shape[0] == 1 and channels == 2:  # packed: interleaved in one row
        data = data.reshape(-1, 2).T
    return data.astype(np.float64), channels


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


async def test_stereo_puts_the_caller_left_and_the_bot_right_at_their_times(
    tmp_path: Path,
) -> None:
    recorder = CallRecorder(tmp_path / "call.ogg", caller_rate=16000, bot_rate=24000)
    for i in range(10):  # 1 s of caller speech in 100 ms chunks, as the transport feeds it
        recorder.feed_caller(tone(0.1, 16000), i * 0.1)
    recorder.feed_bot(tone(1.0, 24000, 660.0), 2.0)  # the reply, after a 1 s pause
    result = await recorder.close()

    assert result.duration_s == pytest.approx(3.0, abs=0.01)
    assert result.size_bytes > 0
    data, channels = decode(result.path)
    assert channels == 2
    left, right = data[0], data[1]
    rate = 48000
    sec = slice(int(0.2 * rate), int(0.8 * rate))
    pause = slice(int(1.2 * rate), int(1.8 * rate))
    reply = slice(int(2.2 * rate), int(2.8 * rate))
    # Opus decodes to float in [-1, 1]: speech is loud where it was fed, silent elsewhere.
    assert rms(left[sec]) > 0.1
    assert rms(right[sec]) < 0.01
    assert rms(left[pause]) < 0.01
    assert rms(right[pause]) < 0.01
    assert rms(right[reply]) > 0.1
    assert rms(left[reply]) < 0.01


async def test_mixed_layout_has_one_channel_with_both_sides(tmp_path: Path) -> None:
    recorder = CallRecorder(
        tmp_path / "mixed.ogg", caller_rate=16000, bot_rate=24000, layout="mixed"
    )
    recorder.feed_caller(tone(0.5, 16000), 0.0)
    recorder.feed_bot(tone(0.5, 24000, 660.0), 1.0)
    result = await recorder.close()
    data, channels = decode(result.path)
    assert channels == 1
    assert result.duration_s == pytest.approx(1.5, abs=0.01)
    mono = data.reshape(-1)
    assert rms(mono[int(0.1 * 48000) : int(0.4 * 48000)]) > 0.1
    assert rms(mono[int(1.1 * 48000) : int(1.4 * 48000)]) > 0.1


async def test_close_is_idempotent_and_later_feeds_are_ignored(tmp_path: Path) -> None:
    recorder = CallRecorder(tmp_path / "x.ogg", caller_rate=16000, bot_rate=16000)
    recorder.feed_caller(tone(0.2, 16000), 0.0)
    first, second = await asyncio.gather(recorder.close(), recorder.close())
    assert first == second
    recorder.feed_caller(tone(0.2, 16000), 1.0)  # after close: dropped silently
    assert await recorder.close() == first


async def test_bad_timestamps_and_odd_bytes_are_refused_quietly(tmp_path: Path) -> None:
    recorder = CallRecorder(tmp_path / "y.ogg", caller_rate=16000, bot_rate=16000)
    recorder.feed_caller(tone(0.2, 16000), -5.0)  # negative: ignored
    recorder.feed_caller(tone(0.2, 16000), 10**9)  # absurdly late: ignored
    recorder.feed_caller(tone(0.2, 16000) + b"\x01", 0.0)  # a stray odd byte is trimmed
    result = await recorder.close()
    assert result.duration_s == pytest.approx(0.2, abs=0.01)


async def test_feeding_never_blocks_the_event_loop(tmp_path: Path) -> None:
    """A full queue drops chunks (counted) instead of waiting for the encoder."""
    recorder = CallRecorder(tmp_path / "z.ogg", caller_rate=16000, bot_rate=16000, max_queue=5)
    chunk = tone(0.02, 16000)
    for i in range(2000):
        recorder.feed_caller(chunk, i * 0.02)
    result = await recorder.close()
    assert result.dropped == recorder.dropped
    assert recorder.dropped > 0  # dropped, not waited for
    assert result.duration_s <= 40.0
