"""REST voice endpoints: transcribe a file, speak a text, one spoken chat turn, health.

Uploads are the raw body (``Content-Type: audio/...``) or the first file of a multipart form.
Decoding and encoding (PyAV) run in worker threads.

These are paid work on the owner's vendor accounts, so they are for servers only: a secret key
or a user token with the ``chat`` scope. A publishable (widget) key gets 403: the widget talks
over ``/v1/voice/ws`` with a session token, where the plan's admission and per-turn billing
apply. Each call goes through billing's one quota check before any vendor is paid (402 when the
plan's voice minutes would be passed; ``/chat`` is also admitted as a voice session, so it takes
one of the plan's concurrent lines while it runs) and bills the voice seconds it produced, as
the WebSocket does: ``/transcribe`` the audio heard, ``/speak`` the audio spoken, ``/chat`` the
user's audio plus the reply's, as one stored turn.
"""

from __future__ import annotations

import asyncio
import base64
import math
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, SkipValidation

from voice_server.brain import Brain, ReplyDone, TextDelta
from voice_server.db import Database
from voice_server.db.types import Connection
from voice_server.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from voice_server.principal import Principal
from voice_server.turns import ask
from voice_server.voice.allowance import QuotaAllowance, UsageRecorder
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
from voice_server.voice.store import TurnRow

MAX_SPEAK_CHARS = 5000
# Spoken English at speed 1.0 is about 15 characters a second; the quota check before paying
# for synthesis uses this, and the bill is the audio actually produced.
CHARS_PER_SECOND = 15.0
SCOPE = "chat"


class RestQuota(Protocol):
    """Billing's quota check (the app's ``quota`` dependency), as these routes use it."""

    async def check(
        self,
        tenant_id: UUID,
        kind: Literal["voice_seconds", "voice_session"],
        amount: float = 1,
        *,
        conn: Connection | None = None,
    ) -> QuotaAllowance: ...


def require_server_caller(principal: Principal) -> None:
    """Secret keys and user tokens with the ``chat`` scope; never a publishable key."""
    if principal.kind == "publishable_key":
        raise Forbidden(
            "publishable keys cannot use the REST voice endpoints; the widget talks over "
            "/v1/voice/ws with a session token",
            required="a secret key or a user token",
        )
    if SCOPE not in principal.scopes:
        raise Forbidden(f"this credential lacks the `{SCOPE}` scope", required_scope=SCOPE)


async def _check_seconds(quota: RestQuota | None, tenant_id: UUID, seconds: float) -> None:
    if quota is not None:
        await quota.check(tenant_id, "voice_seconds", max(1, math.ceil(seconds)))


async def _bill(
    database: Database,
    usage: UsageRecorder | None,
    tenant_id: UUID,
    seconds: float,
    what: str,
) -> None:
    """Record the call's voice seconds (rounded up, as a turn's are) once."""
    billed = math.ceil(round(seconds * 1000) / 1000)
    if usage is None or billed <= 0:
        return
    async with database.pool.acquire() as conn:
        await usage(conn, tenant_id, "voice_seconds", billed, f"voice-rest:{what}:{uuid.uuid4()}")


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
        database: NamedDependency[Database],
        language: FromQuery[str | None] = None,
        quota: NamedDependency[SkipValidation[RestQuota | None]] = None,
        usage_recorder: NamedDependency[SkipValidation[UsageRecorder | None]] = None,
    ) -> TranscriptOut:
        """Transcribe an audio file (WAV, MP3, OGG/Opus, WebM, FLAC…); bills its seconds."""
        require_server_caller(principal)
        providers = voice_services.require_providers()
        audio = await _decode(await _read_upload(request, voice_services), voice_services)
        await _check_seconds(quota, principal.tenant_id, audio.seconds)
        try:
            result = await providers.stt.transcribe(audio.pcm, audio.sample_rate, language=language)
        except ProviderError as exc:
            raise _provider_failed(exc) from None
        await _bill(database, usage_recorder, principal.tenant_id, audio.seconds, "transcribe")
        return TranscriptOut(
            result.text, result.language, round(audio.seconds, 3), providers.stt.name
        )

    @post("/speak", status_code=200)
    async def speak(
        self,
        data: JSONBody[SpeakRequest],
        voice_services: NamedDependency[VoiceServices],
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
        quota: NamedDependency[SkipValidation[RestQuota | None]] = None,
        usage_recorder: NamedDependency[SkipValidation[UsageRecorder | None]] = None,
    ) -> Response[bytes]:
        """Speak a text; the answer is a WAV, MP3 or Ogg Opus file. Bills its seconds."""
        require_server_caller(principal)
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
        estimate = len(text) / (CHARS_PER_SECOND * options.speed)
        await _check_seconds(quota, principal.tenant_id, estimate)
        pcm = await _synthesize(providers.tts, text, rate, options)
        await _bill(database, usage_recorder, principal.tenant_id, len(pcm) / 2 / rate, "speak")
        body = await asyncio.to_thread(encode, pcm, rate, data.format)
        return Response(body, media_type=MEDIA_TYPES[data.format])

    @post("/chat", status_code=200)
    async def chat(
        self,
        request: Request[Any, Any, Any],
        voice_services: NamedDependency[VoiceServices],
        principal: NamedDependency[Principal],
        brain: NamedDependency[SkipValidation[Brain]],
        bot_id: FromQuery[UUID],
        format: FromQuery[OutputFormat] = "wav",
        quota: NamedDependency[SkipValidation[RestQuota | None]] = None,
    ) -> ChatOut:
        """One spoken turn: audio in; transcript, reply text and reply audio (base64) out.
        Admitted like a voice call (a free line and voice minutes left), billed as one turn."""
        require_server_caller(principal)
        store = voice_services.store
        bot = await store.find_bot(bot_id, principal.tenant_id)
        if bot is None or not principal.may_use_bot(bot_id):
            raise NotFound(f"no bot {bot_id}")
        providers = voice_services.require_providers()
        audio = await _decode(await _read_upload(request, voice_services), voice_services)
        heard_at = datetime.now(UTC)
        if quota is not None:  # before paying for STT; the admission below is the atomic one
            await quota.check(bot.tenant_id, "voice_session")
            await _check_seconds(quota, bot.tenant_id, audio.seconds)
        try:
            heard = await providers.stt.transcribe(
                audio.pcm, audio.sample_rate, language=bot.language
            )
        except ProviderError as exc:
            raise _provider_failed(exc) from None
        if not heard.text.strip():
            raise InvalidInput("no speech was recognised in the audio")

        async def admit(conn: Connection) -> None:
            assert quota is not None
            await quota.check(bot.tenant_id, "voice_session", conn=conn)

        stored = await store.start_session(
            bot, "rest", audio.sample_rate, None, admit=admit if quota is not None else None
        )
        rate = voice_services.config.output_sample_rate
        pcm = b""
        reason = "failed"
        try:
            async with voice_services.manager.keep_alive(bot.tenant_id, stored.session_id):
                user_id = await store.add_message(
                    bot.tenant_id, stored.conversation_id, "user", heard.text
                )
                pieces: list[str] = []
                done: ReplyDone | None = None
                stream = ask(
                    brain, bot, heard.text, conversation_id=stored.conversation_id, channel="voice"
                )
                try:
                    async for event in stream:
                        if isinstance(event, TextDelta):
                            pieces.append(event.text)
                        elif isinstance(event, ReplyDone):
                            done = event
                except ProviderError as exc:
                    raise _provider_failed(exc) from None
                reply = (done.text if done and done.text else "".join(pieces)).strip()
                options = voice_services.config.for_bot(bot.config, bot.language).voice
                pcm = await _synthesize(providers.tts, reply, rate, options) if reply else b""
                assistant_id = await store.add_message(
                    bot.tenant_id,
                    stored.conversation_id,
                    "assistant",
                    reply,
                    tokens_in=done.tokens_in if done else None,
                    tokens_out=done.tokens_out if done else None,
                    answered=done.answered if done else None,
                )
                # Billed like a WebSocket turn: the user's audio plus the reply's, once.
                turn = TurnRow(
                    ordinal=0,
                    user_message_id=user_id,
                    assistant_message_id=assistant_id,
                    speech_started_at=heard_at - timedelta(seconds=audio.seconds),
                    speech_ended_at=heard_at,
                    played_ms=len(pcm) / 2 / rate * 1000,
                )
                await store.add_turn(bot.tenant_id, stored.session_id, turn)
                reason = "completed"
        finally:
            await asyncio.shield(
                store.end_session(bot.tenant_id, stored, reason, audio.seconds, len(pcm) / 2 / rate)
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
