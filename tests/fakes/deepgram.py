"""A fake of Deepgram's text-to-speech REST API, for the official ``deepgram-sdk``.

Routes (as on api.deepgram.com):
- ``POST /v1/speak?model=...&encoding=linear16&sample_rate=...&container=...`` with JSON
  ``{"text": ...}``: streams the audio bytes (chunked) as they are "produced". linear16 comes in
  a WAV container unless ``container=none``, as on Deepgram.
- ``GET /v1/projects``: the key's projects (what a health probe asks).
Errors have Deepgram's shape ``{"err_code", "err_msg", "request_id"}``: 401 for a wrong key
(``Authorization: Token <key>``), 400 for an unknown model, sample rate or empty text, plus
injected failures (``Failure``).

The audio is real speech from eSpeak NG (``audio="espeak"``) or a cheap tone (``audio="tone"``,
for benchmarks). Chunks have odd byte sizes on purpose: an HTTP chunk may split a sample.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import numpy as np

from tests.fakes import (
    Failure,
    FakeVendor,
    Receive,
    Scope,
    Send,
    StreamCut,
    read_request,
    send_json,
    serve,
)
from tests.fakes.latency import ZERO, LatencyProfile, latency_profile
from voice_server.voice.providers._pcm import wav_bytes

SAMPLE_RATES = (8000, 16000, 24000, 32000, 48000)
MAX_CHARS = 2000
CHUNK_BYTES = 4801  # about 100 ms at 24 kHz; odd, so that samples straddle chunks
_MODEL = re.compile(r"^aura(-2)?-[a-z]+-[a-z]{2}$")

AudioKind = Literal["espeak", "tone"]


class FakeDeepgram(FakeVendor):
    def __init__(
        self, *, api_key: str, latency: LatencyProfile, audio: AudioKind, retry_after_s: int
    ) -> None:
        super().__init__(api_key=api_key, latency=latency, retry_after_s=retry_after_s)
        self.audio = audio
        self.bytes_sent = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = await read_request(scope, receive)
        self.requests.append(request)
        if request.headers.get("authorization") != f"Token {self.api_key}":
            return await _error(send, 401, "INVALID_AUTH", "Invalid credentials.")
        failure = self.take_failure()
        request.failure = failure
        match failure:
            case Failure.UNAUTHORIZED:
                return await _error(send, 401, "INVALID_AUTH", "Invalid credentials.")
            case Failure.RATE_LIMITED:
                return await _error(
                    send,
                    429,
                    "TOO_MANY_REQUESTS",
                    "Too many requests. Please try again later.",
                    {"retry-after": str(self.retry_after_s)},
                )
            case Failure.SERVER_ERROR:
                return await _error(send, 500, "INTERNAL_SERVER_ERROR", "Something went wrong.")
            case Failure.HANG:
                return await self.hang(receive)
        if request.method == "GET" and request.path == "/v1/projects":
            project = {"project_id": str(uuid.uuid4()), "name": "Parley fake project"}
            return await send_json(send, 200, {"projects": [project]})
        if request.method == "POST" and request.path == "/v1/speak":
            return await self._speak(send, request.query, request.body, failure)
        await _error(send, 404, "NOT_FOUND", f"No route for {request.method} {request.path}")

    async def _speak(
        self, send: Send, query: dict[str, str], body: bytes, failure: Failure | None
    ) -> None:
        model = query.get("model", "aura-asteria-en")
        encoding = query.get("encoding", "mp3")
        container = query.get("container", "wav" if encoding == "linear16" else "none")
        sample_rate = int(float(query.get("sample_rate", "24000")))
        try:
            text = str(json.loads(body)["text"])
        except (ValueError, KeyError, TypeError):
            return await _error(send, 400, "INVALID_REQUEST_BODY", "Expected JSON with `text`.")
        if not _MODEL.match(model):
            return await _error(send, 400, "INVALID_QUERY_PARAMETER", f"No such model: {model}")
        if encoding != "linear16":
            return await _error(
                send, 400, "UNSUPPORTED_AUDIO_FORMAT", "This fake speaks linear16 only."
            )
        if sample_rate not in SAMPLE_RATES:
            return await _error(
                send,
                400,
                "UNSUPPORTED_AUDIO_FORMAT",
                f"sample_rate must be one of {list(SAMPLE_RATES)} for linear16.",
            )
        if not text.strip():
            return await _error(send, 400, "INVALID_REQUEST_BODY", "Text must not be empty.")
        if len(text) > MAX_CHARS:
            return await _error(
                send, 413, "PAYLOAD_TOO_LARGE", f"Text longer than {MAX_CHARS} characters."
            )
        await asyncio.sleep(self.latency.tts_first_byte_delay())
        pcm = await self._pcm(text, sample_rate, query.get("speed"))
        audio = wav_bytes(pcm, sample_rate) if container == "wav" else pcm
        request_id = str(uuid.uuid4())
        headers = [
            (b"content-type", b"audio/wav" if container == "wav" else b"application/octet-stream"),
            (b"dg-model-name", model.encode()),
            (b"dg-char-count", str(len(text)).encode()),
            (b"dg-request-id", request_id.encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        chunks = [audio[i : i + CHUNK_BYTES] for i in range(0, len(audio), CHUNK_BYTES)]
        for index, chunk in enumerate(chunks):
            if failure is Failure.STREAM_CUT and index >= len(chunks) // 2:
                raise StreamCut("speech stream cut halfway")
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            self.bytes_sent += len(chunk)
            await asyncio.sleep(self.latency.tts_chunk_delay(len(chunk) / 2 / sample_rate))
        await send({"type": "http.response.body", "body": b""})

    async def _pcm(self, text: str, sample_rate: int, speed: str | None) -> bytes:
        if self.audio == "tone":
            return _tone(text, sample_rate)
        from voice_server.voice.providers.base import VoiceOptions
        from voice_server.voice.providers.espeak_tts import EspeakTTS

        options = VoiceOptions(speed=float(speed) if speed else 1.0)
        tts = EspeakTTS()
        return b"".join(
            [c async for c in tts.synthesize(text, sample_rate=sample_rate, options=options)]
        )


def _tone(text: str, sample_rate: int) -> bytes:
    seconds = max(0.3, 0.06 * len(text))  # about the length of speaking it
    size = int(seconds * sample_rate) * 2
    second = _tone_second(sample_rate)  # 220 whole cycles: it repeats without a seam
    return (second * (size // len(second) + 1))[:size]


@functools.cache
def _tone_second(sample_rate: int) -> bytes:
    # Computed once: a long clause's tone built sample by sample took tens of milliseconds
    # before the first byte, which the benchmarks would have counted as the server's overhead.
    t = np.arange(sample_rate) / sample_rate
    wave = 0.3 * np.sin(2 * math.pi * 220.0 * t) * 32767
    return wave.astype("<i2").tobytes()


async def _error(
    send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> None:
    payload = {"err_code": code, "err_msg": message, "request_id": str(uuid.uuid4())}
    await send_json(send, status, payload, headers)


@asynccontextmanager
async def deepgram_server(
    *,
    api_key: str = "dg_fake_test_key",
    latency: LatencyProfile | str = ZERO,
    audio: AudioKind = "espeak",
    retry_after_s: int = 2,
) -> AsyncIterator[FakeDeepgram]:
    """Serve a fake Deepgram; yield it (``base_url``, ``api_key``, ``requests``, ``fail_next``)."""
    if isinstance(latency, str):
        latency = latency_profile(latency)
    fake = FakeDeepgram(api_key=api_key, latency=latency, audio=audio, retry_after_s=retry_after_s)
    async with serve(fake, fake):
        yield fake
