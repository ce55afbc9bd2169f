"""One simulated caller: streams speech at real-time pace over the voice WebSocket and times,
at the client, speech end → first reply audio frame (voice-to-voice), while keeping the
microphone open (silence) as a phone would. Reply frames later than 40 ms behind their real-time
slot count as late."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from benchmarks.speech import FRAME_BYTES, RATE

FRAME_S = 0.020
LATE_AFTER_S = 0.040
OUTPUT_RATE = 24_000


@dataclass
class TurnResult:
    voice_to_voice_s: float | None
    waterfall: dict[str, Any] = field(default_factory=dict)
    late_frames: int = 0
    frames: int = 0


@dataclass
class CallResult:
    turns: list[TurnResult] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


class _Listener:
    """Reads the socket; records when reply audio starts and how late each frame is."""

    def __init__(self) -> None:
        self.first_audio_at: float | None = None
        self.audio_seconds = 0.0
        self.late = 0
        self.frames = 0
        self.turn_done = asyncio.Event()
        self.metrics: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []

    def reset(self) -> None:
        self.first_audio_at = None
        self.audio_seconds = 0.0
        self.late = self.frames = 0
        self.turn_done.clear()

    async def run(self, ws: Any) -> None:
        async for message in ws:
            now = time.perf_counter()
            if isinstance(message, bytes):
                if self.first_audio_at is None:
                    self.first_audio_at = now
                slot = self.first_audio_at + self.audio_seconds
                if now - slot > LATE_AFTER_S:
                    self.late += 1
                self.frames += 1
                self.audio_seconds += len(message) / 2 / OUTPUT_RATE
                continue
            event = json.loads(message)
            match event.get("type"):
                case "metrics":
                    self.metrics.append(event)
                case "audio.end":
                    self.turn_done.set()
                case "error":
                    self.errors.append(event)


async def session_url(ws_url: str, bot_id: UUID, key: str, origin: str) -> str:
    """The WebSocket URL with a session token, got the way the widget gets it (Parley refuses a
    publishable key on the socket); other servers (the Pipecat bot) take the key as it is."""
    if not key.startswith("ppk_"):
        return f"{ws_url}?key={key}"
    base = ws_url.replace("ws://", "http://", 1).split("/v1/", 1)[0]
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        response = await http.post(
            f"/v1/bots/{bot_id}/sessions", headers={"X-Parley-Key": key, "Origin": origin}
        )
        response.raise_for_status()
    return f"{ws_url}?token={response.json()['token']}"


async def call(
    ws_url: str, bot_id: UUID, utterances: list[bytes], *, key: str, origin: str,
    gap_ms: int = 1200,
) -> CallResult:  # fmt: skip
    result = CallResult()
    listener = _Listener()
    async with connect(await session_url(ws_url, bot_id, key, origin), origin=origin,  # type: ignore[arg-type]
                       max_size=2**22) as ws:  # fmt: skip
        reader = asyncio.create_task(listener.run(ws))
        try:
            await ws.send(json.dumps({"type": "session.start", "bot_id": str(bot_id),
                                      "sample_rate": RATE,
                                      "output_sample_rate": OUTPUT_RATE}))  # fmt: skip
            mic = _Microphone(ws)
            for speech in utterances:
                listener.reset()
                await mic.send(speech)
                speech_end = time.perf_counter()
                # Keep the microphone open with silence until the reply has been played out.
                deadline = speech_end + 30
                while not listener.turn_done.is_set() and time.perf_counter() < deadline:
                    await mic.send(bytes(FRAME_BYTES))
                await mic.send(bytes(RATE * 2 * gap_ms // 1000))
                v2v = (
                    None
                    if listener.first_audio_at is None
                    else listener.first_audio_at - speech_end
                )
                waterfall = listener.metrics[-1] if listener.metrics else {}
                result.turns.append(TurnResult(v2v, waterfall, listener.late, listener.frames))
            await ws.send(json.dumps({"type": "session.end"}))
        except ConnectionClosed as exc:
            # The server ended the call (overload: "overflow"): keep the turns done so far and
            # say why, with the error event it sent first.
            code = exc.rcvd.code if exc.rcvd else None
            listener.errors.append({"code": f"closed_{code}", "message": str(exc)})
        finally:
            reader.cancel()
            # The reader ends cancelled, or with the socket's own error once it is closed.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
    result.errors = listener.errors
    return result


class _Microphone:
    """Sends audio in 20 ms frames on a real-time schedule that carries across calls."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_at: float | None = None

    async def send(self, pcm: bytes) -> None:
        if self.next_at is None:
            self.next_at = time.perf_counter()
        for i in range(0, len(pcm), FRAME_BYTES):
            delay = self.next_at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.ws.send(pcm[i : i + FRAME_BYTES])
            self.next_at += FRAME_S
