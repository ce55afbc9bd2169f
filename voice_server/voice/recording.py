"""Call recording: both sides of a voice session into one Ogg/Opus file (PyAV).

The session calls three methods and nothing else, none of which blocks the event loop:

    recorder = CallRecorder(path, caller_rate=16000, bot_rate=24000, layout="stereo")
    recorder.feed_caller(pcm16, t)   # t: seconds since the session started, at the chunk's start
    recorder.feed_bot(pcm16, t)
    result = await recorder.close()  # RecordingResult(duration_s, size_bytes); idempotent

Feeding only queues the bytes; one worker thread per recording resamples each side to 48 kHz,
places every chunk at its time on the call's timeline (silence fills the gaps, so a pause is a
pause), and encodes as it goes, so memory stays bounded by the encoder's lag, not the call's
length. ``layout="stereo"`` puts the caller left and the bot right; ``"mixed"`` sums them into
one channel. The queue is bounded: if the encoder falls behind by more than
``max_queue`` chunks, new chunks are dropped (counted in ``dropped``) rather than slowing the call.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import av
import numpy as np

_log = logging.getLogger("parley.voice.recording")

RATE = 48_000
Layout = Literal["stereo", "mixed"]
Side = Literal["caller", "bot"]
# The caller's audio arrives in real time; the bot's is sent ahead of it (the pacer's lead), so
# the encoder keeps this much behind the newest caller audio before writing a stretch out.
HOLD_BACK_S = 1.0
MAX_CALL_S = 4 * 3600  # a chunk placed later than this is a bad timestamp, not a long call


@dataclass(frozen=True)
class RecordingResult:
    path: Path
    duration_s: float
    size_bytes: int
    dropped: int


class _Track:
    """One side's samples at 48 kHz on the call's timeline, from ``start`` (absolute sample)."""

    def __init__(self, rate: int, channels: int = 1) -> None:
        self.resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        self.rate = rate
        self.channels = channels
        self.start = 0
        self.samples = np.zeros(0, dtype=np.int16)

    @property
    def end(self) -> int:
        return self.start + len(self.samples)

    def place(self, pcm: bytes, t: float) -> None:
        width = 2 * self.channels
        raw = np.frombuffer(pcm[: len(pcm) // width * width], dtype=np.int16)
        if raw.size == 0:
            return
        if self.channels > 1:  # a stereo caller is folded to mono: one side of the call
            raw = raw.reshape(-1, self.channels).mean(axis=1).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(raw.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.rate
        resampled = [f.to_ndarray().reshape(-1) for f in self.resampler.resample(frame)]
        if not resampled:
            return
        audio = np.concatenate(resampled).astype(np.int16)
        at = max(int(round(t * RATE)), self.end)  # never earlier than what is already placed
        gap = at - self.end
        self.samples = np.concatenate([self.samples, np.zeros(gap, np.int16), audio])

    def take(self, upto: int) -> np.ndarray:
        """Samples [start, upto) (silence past the end), and forget them."""
        count = max(0, upto - self.start)
        out = np.zeros(count, dtype=np.int16)
        have = min(count, len(self.samples))
        out[:have] = self.samples[:have]
        self.samples = self.samples[have:]
        self.start = upto if count else self.start
        return out


class CallRecorder:
    def __init__(
        self,
        path: Path,
        *,
        caller_rate: int,
        bot_rate: int,
        layout: Layout = "stereo",
        caller_channels: int = 1,
        max_queue: int = 2000,
    ) -> None:
        self.path = path
        self.layout: Layout = layout
        self.dropped = 0
        self._tracks = {"caller": _Track(caller_rate, caller_channels), "bot": _Track(bot_rate)}
        self._queue: queue.Queue[tuple[Side, bytes, float] | None] = queue.Queue(max_queue)
        self._written = 0
        self._error: BaseException | None = None
        self._result: RecordingResult | None = None
        self._closing: asyncio.Future[RecordingResult] | None = None
        path.parent.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="call-recorder", daemon=True)
        self._thread.start()

    # -- the session's side (event loop; never blocks) ----------------------------------------

    def feed_caller(self, pcm: bytes, t: float) -> None:
        self._feed("caller", pcm, t)

    def feed_bot(self, pcm: bytes, t: float) -> None:
        self._feed("bot", pcm, t)

    def _feed(self, side: Side, pcm: bytes, t: float) -> None:
        if self._closing is not None or not pcm or not 0 <= t <= MAX_CALL_S:
            return
        try:
            self._queue.put_nowait((side, bytes(pcm), t))
        except queue.Full:
            self.dropped += 1

    async def close(self) -> RecordingResult:
        """Finish the file (in the worker thread) and report what it holds. Safe to call twice
        or concurrently; cancellation does not stop the file being finished."""
        if self._closing is None:
            loop = asyncio.get_running_loop()
            self._closing = loop.create_future()
            # A blocking put on a full queue: done in a thread, not on the loop.
            waiter = loop.run_in_executor(None, self._finish)

            def done(task: asyncio.Future[RecordingResult]) -> None:
                assert self._closing is not None
                if task.exception() is not None:
                    self._closing.set_exception(task.exception())  # type: ignore[arg-type]
                else:
                    self._closing.set_result(task.result())

            waiter.add_done_callback(done)
        return await asyncio.shield(self._closing)

    def _finish(self) -> RecordingResult:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    # -- the worker thread --------------------------------------------------------------------

    def _run(self) -> None:
        try:
            with av.open(str(self.path), "w", format="ogg") as container:
                channels = "stereo" if self.layout == "stereo" else "mono"
                stream = container.add_stream("libopus", rate=RATE, layout=channels)
                while True:
                    item = self._queue.get()
                    if item is None:
                        break
                    side, pcm, t = item
                    self._tracks[side].place(pcm, t)
                    ready = self._tracks["caller"].end - int(HOLD_BACK_S * RATE)
                    if ready - self._written >= RATE // 10:
                        self._write(container, stream, ready)
                self._write(container, stream, max(t.end for t in self._tracks.values()))
                for packet in stream.encode(None):
                    container.mux(packet)
            self._result = RecordingResult(
                path=self.path,
                duration_s=self._written / RATE,
                size_bytes=self.path.stat().st_size,
                dropped=self.dropped,
            )
        except BaseException as exc:  # reported to close(); the session never sees a raise
            _log.exception("call recording failed")
            self._error = exc

    def _write(self, container: av.container.OutputContainer, stream: av.AudioStream,
               upto: int) -> None:  # fmt: skip
        if upto <= self._written:
            return
        left = self._tracks["caller"].take(upto)
        right = self._tracks["bot"].take(upto)
        count = upto - self._written
        left, right = _fit(left, count), _fit(right, count)
        if self.layout == "stereo":
            data = np.empty(count * 2, dtype=np.int16)
            data[0::2], data[1::2] = left, right
            frame = av.AudioFrame.from_ndarray(data.reshape(1, -1), format="s16", layout="stereo")
        else:
            mixed = np.clip(left.astype(np.int32) + right.astype(np.int32), -32768, 32767)
            frame = av.AudioFrame.from_ndarray(
                mixed.astype(np.int16).reshape(1, -1), format="s16", layout="mono"
            )
        frame.sample_rate = RATE
        frame.pts = self._written
        self._written = upto
        for packet in stream.encode(frame):
            container.mux(packet)


def _fit(samples: np.ndarray, count: int) -> np.ndarray:
    if len(samples) == count:
        return samples
    out = np.zeros(count, dtype=np.int16)
    out[: min(count, len(samples))] = samples[:count]
    return out
