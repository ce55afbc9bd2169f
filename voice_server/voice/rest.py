"""REST voice endpoints: transcribe a file, speak a text, one spoken chat turn, health.

Uploads are the raw body (``Content-Type: audio/...``) or the first file of a multipart form.
Decoding and encoding (PyAV) run in worker threads.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import SkipValidation

from voice_server.brain import Brain, BrainRequest, ReplyDone, TextDelta
from voice_server.errors import (
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from voice_server.principal import Principal
from voice_server.voice.audio import SUPPORTED_RATES
from voice_server.voice.codecs import (
    MEDIA_TYPES,
    DecodedAudio,
    NotAudio,
    OutputFormat,
    TooLong,
    decode,
    encode,
)
from voice_server.voice.providers.base import (
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    TextToSpeech,
    VoiceOptions,
)
from voice_server.voice.services import VoiceServices

MAX_SPEAK_CHARS = 5000


@dataclass(frozen=True)
class SpeakRequest:
    text: str
    format: OutputFormat = "wav"
    sample_rate: int | None = None
    voice: str | None = None
    speed: float | None = None
    pitch: float | None = None


@dataclass(frozen=True)
class TranscriptOut:
    text: str
    language: str | None
    audio_seconds: float
    provider: str


@dataclass(frozen=True)
class ChatOut:
    transcript: str
    reply: str
    audio_format: str
    audio_media_type: str
    audio_base64: str
    conversation_id: UUID


async def _read_upload(request: Request[Any, Any, Any], services: VoiceServices) -> bytes:
    limit = services.settings.voice_max_upload_bytes
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"uploads are limited to {limit} bytes")
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = next((v for v in form.values() if isinstance(v, UploadFile)), None)
        if upload is None:
            raise InvalidInput("the form holds no file; send the audio as a file field")
        data = await upload.read()
    else:
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"uploads are limited to {limit} bytes")
            chunks.append(chunk)
        data = b"".join(chunks)
    if not data:
        raise InvalidInput("the upload is empty")
    if len(data) > limit:
        raise PayloadTooLarge(f"uploads are limited to {limit} bytes")
    return data


async def _decode(data: bytes, services: VoiceServices) -> DecodedAudio:
    max_s = services.settings.voice_max_upload_seconds
    try:
        return await asyncio.to_thread(decode, data, max_seconds=max_s)
    except NotAudio as exc:
        raise UnsupportedMediaType(str(exc)) from None
    except TooLong:
        raise PayloadTooLarge(f"audio uploads are limited to {max_s:g} seconds") from None


def _provider_failed(exc: ProviderError) -> Exception:
    if isinstance(exc, ProviderBadRequest):
        return InvalidInput(f"{exc.provider} refused the request: {exc.detail}")
    if isinstance(exc, ProviderRateLimited):
        return RateLimited(
            f"{exc.provider} is rate-limited", retry_after_s=int(exc.retry_after_s or 1)
        )
    return ServiceUnavailable(f"{exc.provider} failed: {exc.detail}", code=exc.code)


async def _synthesize(tts: TextToSpeech, text: str, rate: int, options: VoiceOptions) -> bytes:
    try:
        return b"".join([c async for c in tts.synthesize(text, sample_rate=rate, options=options)])
    except ProviderError as exc:
        raise _provider_failed(exc) from None


class VoiceController(Controller):
    path = "/v1/voice"
    tags = ["voice"]

    @post("/transcribe", status_code=200)
    async def transcribe(
        self,
        request: Request[Any, Any, Any],
        voice_services: NamedDependency[VoiceServices],
        principal: NamedDependency[Principal],
        language: str | None = None,
    ) -> TranscriptOut:
        """Transcribe an audio file (WAV, MP3, OGG/Opus, WebM, FLAC…)."""
        providers = voice_services.require_providers()
        audio = await _decode(await _read_upload(request, voice_services), voice_services)
        try:
            result = await providers.stt.transcribe(audio.pcm, audio.sample_rate, language=language)
        except ProviderError as exc:
            raise _provider_failed(exc) from None
        return TranscriptOut(
            result.text, result.language, round(audio.seconds, 3), providers.stt.name
        )

    @post("/speak", status_code=200)
    async def speak(
        self,
        data: SpeakRequest,
        voice_services: NamedDependency[VoiceServices],
        principal: NamedDependency[Principal],
    ) -> Response[bytes]:
        """Speak a text; the answer is a WAV, MP3 or Ogg Opus file."""
        text = data.text.strip()
        if not text:
            raise InvalidInput("text is empty")
        if len(text) > MAX_SPEAK_CHARS:
            raise PayloadTooLarge(f"text is limited to {MAX_SPEAK_CHARS} characters")
        if data.format not in MEDIA_TYPES:
            raise InvalidInput("format must be wav, mp3 or ogg")
        rate = data.sample_rate or voice_services.config.output_sample_rate
        if rate not in SUPPORTED_RATES:
            raise InvalidInput(f"sample_rate must be one of {sorted(SUPPORTED_RATES)}")
        for value in (data.speed, data.pitch):
            if value is not None and not 0.25 <= value <= 4.0:
                raise InvalidInput("speed and pitch must be between 0.25 and 4")
        options = replace(
            voice_services.config.voice,
            voice=data.voice or voice_services.config.voice.voice,
            speed=data.speed or voice_services.config.voice.speed,
            pitch=data.pitch or voice_services.config.voice.pitch,
        )
        providers = voice_services.require_providers()
        pcm = await _synthesize(providers.tts, text, rate, options)
        body = await asyncio.to_thread(encode, pcm, rate, data.format)
        return Response(body, media_type=MEDIA_TYPES[data.format])

    @post("/chat", status_code=200)
    async def chat(
        self,
        request: Request[Any, Any, Any],
        voice_services: NamedDependency[VoiceServices],
        principal: NamedDependency[Principal],
        brain: NamedDependency[SkipValidation[Brain]],
        bot_id: UUID,
        format: OutputFormat = "wav",
    ) -> ChatOut:
        """One spoken turn: audio in; transcript, reply text and reply audio (base64) out."""
        store = voice_services.store
        bot = await store.find_bot(bot_id, principal.tenant_id)
        if bot is None or not principal.may_use_bot(bot_id):
            raise NotFound(f"no bot {bot_id}")
        providers = voice_services.require_providers()
        audio = await _decode(await _read_upload(request, voice_services), voice_services)
        try:
            heard = await providers.stt.transcribe(
                audio.pcm, audio.sample_rate, language=bot.language
            )
        except ProviderError as exc:
            raise _provider_failed(exc) from None
        if not heard.text.strip():
            raise InvalidInput("no speech was recognised in the audio")
        stored = await store.start_session(bot, "rest", audio.sample_rate, None)
        await store.add_message(bot.tenant_id, stored.conversation_id, "user", heard.text)
        pieces: list[str] = []
        done: ReplyDone | None = None
        request_ = BrainRequest(
            bot=bot,
            user_text=heard.text,
            conversation_id=stored.conversation_id,
            channel="voice",
        )
        try:
            async for event in brain.reply(request_):
                if isinstance(event, TextDelta):
                    pieces.append(event.text)
                elif isinstance(event, ReplyDone):
                    done = event
        except ProviderError as exc:
            raise _provider_failed(exc) from None
        reply = (done.text if done and done.text else "".join(pieces)).strip()
        await store.add_message(
            bot.tenant_id,
            stored.conversation_id,
            "assistant",
            reply,
            tokens_in=done.tokens_in if done else None,
            tokens_out=done.tokens_out if done else None,
            answered=done.answered if done else None,
        )
        rate = voice_services.config.output_sample_rate
        options = voice_services.config.for_bot(bot.config, bot.language).voice
        pcm = await _synthesize(providers.tts, reply, rate, options) if reply else b""
        await store.end_session(
            bot.tenant_id, stored, "completed", audio.seconds, len(pcm) / 2 / rate
        )
        body = await asyncio.to_thread(encode, pcm, rate, format) if pcm else b""
        return ChatOut(
            transcript=heard.text,
            reply=reply,
            audio_format=format,
            audio_media_type=MEDIA_TYPES[format],
            audio_base64=base64.b64encode(body).decode(),
            conversation_id=stored.conversation_id,
        )

    @get("/health")
    async def health(self, voice_services: NamedDependency[VoiceServices]) -> dict[str, Any]:
        """Which speech providers are active and whether they answer."""
        providers = voice_services.providers
        if providers is None:
            return {"ok": False, "error": voice_services.providers_error}
        report: dict[str, Any] = {
            "ok": True,
            "active_sessions": len(voice_services.manager.sessions),
        }
        for role, provider in (("stt", providers.stt), ("tts", providers.tts)):
            entry: dict[str, Any] = {"provider": provider.name, "ok": True}
            check = getattr(provider, "check", None)
            if check is not None:
                try:
                    async with asyncio.timeout(5):
                        await check()
                except (ProviderError, TimeoutError) as exc:
                    entry.update(ok=False, detail=str(exc) or "timed out")
                    report["ok"] = False
            report[role] = entry
        return report
