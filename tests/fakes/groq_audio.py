"""A fake of Groq's OpenAI-compatible speech-to-text API, for the official ``groq`` SDK.

Routes (as on api.groq.com):
- ``POST /openai/v1/audio/transcriptions``: multipart ``file``, ``model``, ``language``,
  ``response_format`` (``json``, ``verbose_json`` or ``text``), ``temperature``, ``prompt``;
  answers ``{"text": ..., "x_groq": {"id": ...}}``.
- ``GET /openai/v1/models/{model}``: the model card (what a health probe asks).
Errors have Groq's shape ``{"error": {"message", "type", "code"}}``: 401 for a wrong key, 404
for an unknown model, 400 for a file that is not audio, plus injected failures (``Failure``).

The transcript is ``text`` (a string, or a function of the uploaded PCM16 and its rate), so a
test decides what the "user said"; :func:`pocketsphinx_transcriber` really listens.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import json
import uuid
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from tests.fakes import (
    Failure,
    FakeVendor,
    Receive,
    Scope,
    Send,
    StreamCut,
    read_request,
    send_bytes,
    send_json,
    serve,
)
from tests.fakes.latency import ZERO, LatencyProfile, latency_profile

MODELS = ("whisper-large-v3-turbo", "whisper-large-v3", "distil-whisper-large-v3-en")
AUDIO_EXTENSIONS = ("flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "opus", "wav", "webm")
TRANSCRIPTIONS = "/openai/v1/audio/transcriptions"
MODELS_PATH = "/openai/v1/models/"

Transcriber = Callable[[bytes, int], str | Awaitable[str]]


class FakeGroq(FakeVendor):
    def __init__(
        self, *, api_key: str, latency: LatencyProfile, text: str | Transcriber, retry_after_s: int
    ) -> None:
        super().__init__(api_key=api_key, latency=latency, retry_after_s=retry_after_s)
        self.text = text

    async def transcript_of(self, pcm16: bytes, sample_rate: int) -> str:
        if isinstance(self.text, str):
            return self.text
        result = self.text(pcm16, sample_rate)
        return await result if inspect.isawaitable(result) else result

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = await read_request(scope, receive)
        self.requests.append(request)
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return await _error(
                send, 401, "Invalid API Key", "invalid_request_error", "invalid_api_key"
            )
        failure = self.take_failure()
        request.failure = failure
        match failure:
            case Failure.UNAUTHORIZED:
                return await _error(
                    send, 401, "Invalid API Key", "invalid_request_error", "invalid_api_key"
                )
            case Failure.RATE_LIMITED:
                return await _error(
                    send,
                    429,
                    "Rate limit reached for model `whisper-large-v3-turbo` on seconds of audio "
                    f"per hour (ASPH). Please try again in {self.retry_after_s}s.",
                    "seconds",
                    "rate_limit_exceeded",
                    headers={"retry-after": str(self.retry_after_s)},
                )
            case Failure.SERVER_ERROR:
                return await _error(send, 500, "Internal Server Error", "internal_server_error")
            case Failure.HANG:
                return await self.hang(receive)
        if request.method == "GET" and request.path.startswith(MODELS_PATH):
            return await self._model(send, request.path.removeprefix(MODELS_PATH))
        if request.method == "POST" and request.path == TRANSCRIPTIONS:
            return await self._transcribe(send, request.form, request.files, failure)
        await _error(
            send,
            404,
            f"Unknown request URL: {request.method} {request.path}.",
            "invalid_request_error",
            "unknown_url",
        )

    async def _model(self, send: Send, model: str) -> None:
        if model not in MODELS:
            return await _model_not_found(send, model)
        await send_json(
            send,
            200,
            {
                "id": model,
                "object": "model",
                "created": 1728413088,
                "owned_by": "OpenAI",
                "active": True,
                "context_window": 448,
                "max_completion_tokens": 448,
            },
        )

    async def _transcribe(
        self, send: Send, form: dict[str, str], files: dict, failure: Failure | None
    ) -> None:
        model = form.get("model", "")
        if not model:
            return await _error(send, 400, "model is required", "invalid_request_error")
        if model not in MODELS:
            return await _model_not_found(send, model)
        upload = files.get("file")
        if upload is None:
            return await _error(
                send, 400, "either file or url must be provided", "invalid_request_error"
            )
        extension = upload.filename.rsplit(".", 1)[-1].lower()
        if extension not in AUDIO_EXTENSIONS:
            return await _error(
                send,
                400,
                f"file must be one of the following types: {list(AUDIO_EXTENSIONS)}",
                "invalid_request_error",
            )
        try:
            pcm16, sample_rate, channels = _read_wav(upload.data)
        except (wave.Error, EOFError):
            return await _error(
                send,
                400,
                "could not process file - is it a valid media file?",
                "invalid_request_error",
            )
        duration = len(pcm16) / 2 / channels / sample_rate
        await asyncio.sleep(self.latency.stt_delay(duration))
        text = await self.transcript_of(pcm16, sample_rate)
        request_id = f"req_{uuid.uuid4().hex[:26]}"
        response_format = form.get("response_format", "json")
        if response_format == "text":
            body = text.encode()
            content_type = "text/plain; charset=utf-8"
        else:
            payload: dict[str, object] = {"text": text, "x_groq": {"id": request_id}}
            if response_format == "verbose_json":
                payload = {
                    "task": "transcribe",
                    "language": form.get("language", "English"),
                    "duration": round(duration, 2),
                    "text": text,
                    "segments": [
                        {"id": 0, "seek": 0, "start": 0.0, "end": round(duration, 2), "text": text}
                    ],
                    "x_groq": {"id": request_id},
                }
            body = json.dumps(payload).encode()
            content_type = "application/json"
        if failure is Failure.STREAM_CUT:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", content_type.encode()),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send(
                {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
            )
            raise StreamCut("transcription body cut halfway")
        await send_bytes(send, 200, body, content_type, {"x-request-id": request_id})


def _read_wav(data: bytes) -> tuple[bytes, int, int]:
    with wave.open(io.BytesIO(data), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise wave.Error("only 16-bit WAV in this fake")
        return wav.readframes(wav.getnframes()), wav.getframerate(), wav.getnchannels()


async def _error(
    send: Send,
    status: int,
    message: str,
    type_: str,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    error: dict[str, str] = {"message": message, "type": type_}
    if code is not None:
        error["code"] = code
    await send_json(send, status, {"error": error}, headers)


async def _model_not_found(send: Send, model: str) -> None:
    await _error(
        send,
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    )


class PocketsphinxTranscriber:
    """A transcriber that really listens (offline pocketsphinx), for end-to-end tests; the
    fake closes it when it stops."""

    def __init__(self) -> None:
        from voice_server.voice.providers.pocketsphinx_stt import PocketsphinxSTT

        self._stt = PocketsphinxSTT(workers=1)

    async def __call__(self, pcm16: bytes, sample_rate: int) -> str:
        return (await self._stt.transcribe(pcm16, sample_rate)).text

    async def aclose(self) -> None:
        await self._stt.aclose()


def pocketsphinx_transcriber() -> PocketsphinxTranscriber:
    return PocketsphinxTranscriber()


@asynccontextmanager
async def groq_audio_server(
    *,
    text: str | Transcriber = "hello from the fake groq",
    api_key: str = "gsk_fake_test_key",
    latency: LatencyProfile | str = ZERO,
    retry_after_s: int = 2,
) -> AsyncIterator[FakeGroq]:
    """Serve a fake Groq; yield it (``base_url``, ``api_key``, ``requests``, ``fail_next``)."""
    if isinstance(latency, str):
        latency = latency_profile(latency)
    fake = FakeGroq(api_key=api_key, latency=latency, text=text, retry_after_s=retry_after_s)
    try:
        async with serve(fake, fake):
            yield fake
    finally:
        if isinstance(text, PocketsphinxTranscriber):
            await text.aclose()
