"""A WebRTC caller in Python: a real aiortc RTCPeerConnection (Opus both ways, the ``parley``
data channel) that signals over HTTP like the browser widget does. Used by the WebRTC tests and
benchmarks (``python -m tests.integration.webrtc.caller`` runs one call in its own process).

The microphone is a track that plays queued PCM in 20 ms frames paced by its own clock (silence
in between, as a live microphone); the reply track is read into per-frame energies with their
arrival times, so a test can tell when reply audio started and stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import httpx
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

MIC_RATE = 16_000
MIC_FRAME = MIC_RATE // 50  # samples in 20 ms
SPEECH_RMS = 300.0  # a received frame louder than this carries reply audio


class MicTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: deque[bytes] = deque()
        self._start: float | None = None
        self._index = 0
        self._drained = asyncio.Event()
        self._drained.set()
        self.spoken_until: float | None = None  # when the last queued frame has been sent out

    def say(self, pcm16k: bytes) -> None:
        step = MIC_FRAME * 2
        for i in range(0, len(pcm16k), step):
            self._queue.append(pcm16k[i : i + step].ljust(step, b"\x00"))
        self._drained.clear()

    async def said(self, timeout_s: float = 60) -> None:
        """Until everything queued has been sent (bounded: a dead connection stops reading)."""
        async with asyncio.timeout(timeout_s):
            await self._drained.wait()

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        else:
            await asyncio.sleep(max(0.0, self._start + self._index * 0.02 - now))
        if self._queue:
            data = self._queue.popleft()
            self.spoken_until = time.monotonic() + 0.02
        else:
            data = bytes(MIC_FRAME * 2)
            self._drained.set()
        frame = AudioFrame(format="s16", layout="mono", samples=MIC_FRAME)
        frame.planes[0].update(data)
        frame.pts = self._index * MIC_FRAME
        frame.sample_rate = MIC_RATE
        frame.time_base = fractions.Fraction(1, MIC_RATE)
        self._index += 1
        return frame


@dataclass
class Heard:
    at: float  # time.monotonic() when the frame arrived
    rms: float


@dataclass
class WebRtcCaller:
    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    pc: RTCPeerConnection = field(default_factory=lambda: RTCPeerConnection(RTCConfiguration([])))
    mic: MicTrack = field(default_factory=MicTrack)
    events: list[dict[str, Any]] = field(default_factory=list)
    heard: list[Heard] = field(default_factory=list)
    peer_id: str | None = None
    channel_closed: asyncio.Event = field(default_factory=asyncio.Event)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _open: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pc.addTrack(self.mic)
        self.channel = self.pc.createDataChannel("parley")
        self.channel.on("open", self._open.set)
        self.channel.on("message", self._on_message)
        self.channel.on("close", self._on_close)
        self.pc.on("track", self._on_track)

    def _on_message(self, message: str | bytes) -> None:
        self.events.append(json.loads(message))
        self._changed.set()

    def _on_close(self) -> None:
        self.channel_closed.set()
        self._changed.set()

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._tasks.append(asyncio.create_task(self._listen(track)))

    async def _listen(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                samples = frame.to_ndarray().astype(np.float64)  # type: ignore[union-attr]
                rms = float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0
                self.heard.append(Heard(time.monotonic(), rms))

    async def offer(
        self, bot_id: UUID | str, *, trickle: bool = False, token: str | None = None
    ) -> httpx.Response:
        """POST the offer; on 201 apply the answer (and with ``trickle``, send the candidates
        by PATCH instead of in the offer)."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        sdp = self.pc.localDescription.sdp
        candidates: list[dict[str, Any]] = []
        if trickle:
            kept = []
            for line in sdp.split("\r\n"):
                if line.startswith("a=candidate:"):
                    candidates.append({"candidate": line[2:], "sdpMid": "0", "sdpMLineIndex": 0})
                elif line != "a=end-of-candidates":
                    kept.append(line)
            sdp = "\r\n".join(kept)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=20) as http:
            answer = await http.post(
                "/v1/voice/webrtc/offer",
                json={"bot_id": str(bot_id), "sdp": sdp, "type": "offer"},
                headers=self.headers,
                params={"token": token} if token else None,
            )
            if answer.status_code != 201:
                return answer
            body = answer.json()
            self.peer_id = body["peer_id"]
            await self.pc.setRemoteDescription(RTCSessionDescription(body["sdp"], "answer"))
            if trickle:
                patched = await http.patch(
                    f"/v1/voice/webrtc/{self.peer_id}",
                    json={"candidates": [*candidates, {"candidate": "", "sdpMid": "0"}]},
                    headers=self.headers,
                )
                patched.raise_for_status()
        return answer

    async def start(self, bot_id: UUID | str, **extra: Any) -> dict[str, Any]:
        await self.send_start(bot_id, **extra)
        return await self.wait_for("session.started")

    async def send_start(self, bot_id: UUID | str, **extra: Any) -> None:
        """``session.start`` once the channel is open (``extra``: more fields, e.g. resume)."""
        async with asyncio.timeout(20):
            await self._open.wait()
        self.send({"type": "session.start", "bot_id": str(bot_id)} | extra)

    def send(self, message: dict[str, Any]) -> None:
        self.channel.send(json.dumps(message))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    async def wait_for(self, kind: str, count: int = 1, timeout_s: float = 30) -> dict[str, Any]:
        async with asyncio.timeout(timeout_s):
            while len(self.of(kind)) < count:
                if self.channel_closed.is_set():
                    raise AssertionError(f"channel closed before {kind}: {self.events}")
                self._changed.clear()
                await self._changed.wait()
        return self.of(kind)[count - 1]

    def loud_since(self, since: float) -> list[Heard]:
        return [h for h in self.heard if h.at >= since and h.rms > SPEECH_RMS]

    async def delete(self) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=20) as http:
            return await http.delete(f"/v1/voice/webrtc/{self.peer_id}", headers=self.headers)

    async def close(self) -> None:
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def _main(base_url: str, bot_id: str, secret: str, wav_path: str) -> None:
    """One call in this process (a separate OS process from the server): used to test a
    caller that vanishes (the test kills the process) and by the benchmarks."""
    import wave

    with wave.open(wav_path) as wav:
        pcm = wav.readframes(wav.getnframes())
    caller = WebRtcCaller(base_url, {"Authorization": f"Bearer {secret}"})
    response = await caller.offer(bot_id)
    response.raise_for_status()
    await caller.start(bot_id)
    print(json.dumps({"peer_id": caller.peer_id}), flush=True)
    caller.mic.say(pcm)
    await caller.mic.said()
    await asyncio.sleep(3600)  # until killed


if __name__ == "__main__":
    import sys

    asyncio.run(_main(*sys.argv[1:5]))
