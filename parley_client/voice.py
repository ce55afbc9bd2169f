"""One spoken turn over the voice WebSocket (docs/voice-protocol.md): send a WAV's audio as a
microphone would, get back what the server heard, the reply's text and the reply's audio."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import wave
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from parley_client.errors import ParleyClientError, VoiceSessionError

FRAME_S = 0.02  # 20 ms frames: what the server's VAD works in
TRAILING_SILENCE_S = 1.5  # longer than the server's end-of-turn silence (default 700 ms)
MAX_MESSAGE_BYTES = 1 << 20
# Close codes (docs/voice-protocol.md) -> the `error` code the server sent before closing.
CLOSE_CODES = {
    4401: "unauthenticated",
    4402: "unavailable",
    4403: "forbidden",
    1013: "rate_limited",
    1008: "too_many_errors",
    1011: "internal_error",
}


@dataclass
class VoiceTurn:
    """The turn the client spoke, as the server handled it."""

    transcript: str = ""
    reply_text: str = ""
    reply_audio: bytes = b""  # PCM16 mono at `sample_rate`
    sample_rate: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)

    def reply_wav(self) -> bytes:
        out = io.BytesIO()
        with wave.open(out, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(self.sample_rate)
            wav.writeframes(self.reply_audio)
        return out.getvalue()


def read_wav(data: bytes) -> tuple[bytes, int, int]:
    """PCM16 frames, sample rate and channel count of a WAV file's bytes."""
    try:
        with wave.open(io.BytesIO(data)) as wav:
            if wav.getsampwidth() != 2:
                raise ParleyClientError("the WAV must be 16-bit PCM")
            return wav.readframes(wav.getnframes()), wav.getframerate(), wav.getnchannels()
    except (wave.Error, EOFError) as exc:
        raise ParleyClientError(f"not a WAV file: {exc}") from None


async def _send_audio(ws: ClientConnection, pcm: bytes, rate: int, channels: int) -> None:
    """The audio in 20 ms frames at real time, then silence so the server ends the turn."""
    step = int(rate * FRAME_S) * 2 * channels
    audio = pcm + bytes(int(rate * TRAILING_SILENCE_S) * 2 * channels)
    loop = asyncio.get_running_loop()
    begin = loop.time()
    for n, i in enumerate(range(0, len(audio), step)):
        await ws.send(audio[i : i + step])
        await asyncio.sleep(max(0.0, begin + (n + 1) * FRAME_S - loop.time()))
    # Keep the line alive with silence until the reply is done (the task is cancelled then).
    frame = bytes(step)
    while True:
        await ws.send(frame)
        await asyncio.sleep(FRAME_S)


async def _event(ws: ClientConnection, turn: VoiceTurn) -> dict[str, Any] | bytes:
    message = await ws.recv()
    if isinstance(message, bytes):
        return message
    event: dict[str, Any] = json.loads(message)
    turn.events.append(event)
    if event.get("type") == "error" and event.get("fatal"):
        raise VoiceSessionError(str(event.get("code")), str(event.get("message")))
    return event


async def _converse(ws: ClientConnection, bot_id: str, wav: bytes) -> VoiceTurn:
    pcm, rate, channels = read_wav(wav)
    turn = VoiceTurn()
    await ws.send(
        json.dumps({"type": "session.start", "bot_id": bot_id, "sample_rate": rate,
                    "channels": channels})
    )  # fmt: skip
    while True:
        started = await _event(ws, turn)
        if isinstance(started, dict) and started.get("type") == "session.started":
            turn.sample_rate = int(started["output_sample_rate"])
            break
    sender = asyncio.create_task(_send_audio(ws, pcm, rate, channels))
    try:
        ours: int | None = None  # the turn number of our question (the greeting is turn 0)
        playing: int | None = None
        while True:
            item = await _event(ws, turn)
            if isinstance(item, bytes):
                if ours is not None and playing == ours:
                    turn.reply_audio += item
                continue
            kind = item.get("type")
            if kind == "transcript.final" and ours is None:
                ours, turn.transcript = int(item["turn"]), str(item["text"])
            elif kind == "assistant.done" and item.get("turn") == ours:
                turn.reply_text = str(item["text"])
            elif kind == "audio.start":
                playing = item.get("turn")
            elif kind == "audio.end" and ours is not None and item.get("turn") == ours:
                break
            elif kind == "session.ended":
                raise VoiceSessionError("session_ended", str(item.get("reason")))
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
    await ws.send(json.dumps({"type": "session.end"}))
    while True:  # the server stores the call, then says so
        item = await _event(ws, turn)
        if isinstance(item, dict) and item.get("type") == "session.ended":
            return turn


async def talk(
    ws_url: str, headers: dict[str, str], bot_id: str, wav: bytes, *, timeout_s: float = 120
) -> VoiceTurn:
    """Ask `bot_id` one spoken question (a WAV file's bytes) and wait for the spoken answer."""
    try:
        async with (
            asyncio.timeout(timeout_s),
            connect(ws_url, additional_headers=headers, max_size=MAX_MESSAGE_BYTES) as ws,
        ):
            return await _converse(ws, bot_id, wav)
    except ConnectionClosed as exc:
        code = CLOSE_CODES.get(exc.rcvd.code if exc.rcvd else 0, "closed")
        raise VoiceSessionError(code, f"the server closed the session ({exc})") from None
    except TimeoutError:
        raise VoiceSessionError("timeout", f"no answer within {timeout_s} s") from None
    except OSError as exc:
        raise ParleyClientError(f"cannot reach {ws_url}: {exc}") from None
