"""Speech-to-text with Groq Whisper through the official ``groq`` SDK (OpenAI-compatible API).

Audio goes up as a 16 kHz mono WAV (Whisper's own rate: more would only cost upload time). The
SDK's own retries are off: the pipeline decides on retries from the error category, and every
SDK or transport error is translated here, at the seam, into the ProviderError tree.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import groq
import httpx

from voice_server.voice.providers._http_errors import error_for_status
from voice_server.voice.providers._pcm import resample, seconds, wav_bytes
from voice_server.voice.providers.base import (
    ProviderBadRequest,
    ProviderTimeout,
    ProviderUnavailable,
    Transcript,
)
from voice_server.voice.providers.health import ProviderHealth, probe

NAME: Final = "groq"
DEFAULT_MODEL: Final = "whisper-large-v3-turbo"
UPLOAD_RATE: Final = 16_000


class GroqSTT:
    """:class:`~voice_server.voice.providers.base.SpeechToText` with Groq Whisper."""

    name = NAME

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.groq.com",
        model: str = DEFAULT_MODEL,
        language: str | None = "en",
        timeout_s: float = 15.0,
    ) -> None:
        self.model = model
        self.language = language
        self._client = groq.AsyncGroq(
            api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=0
        )

    async def transcribe(
        self, pcm16: bytes, sample_rate: int, *, language: str | None = None
    ) -> Transcript:
        if len(pcm16) % 2:
            raise ProviderBadRequest(NAME, "PCM16 audio must have an even number of bytes")
        if not 8_000 <= sample_rate <= 192_000:
            raise ProviderBadRequest(NAME, f"unsupported sample rate {sample_rate}")
        language = language or self.language
        duration = seconds(pcm16, sample_rate)
        if not pcm16:
            return Transcript(text="", language=language, audio_seconds=0.0)
        if sample_rate > UPLOAD_RATE:
            pcm16 = await asyncio.to_thread(resample, pcm16, sample_rate, UPLOAD_RATE)
            sample_rate = UPLOAD_RATE
        with _seam():
            result = await self._client.audio.transcriptions.create(
                file=("audio.wav", wav_bytes(pcm16, sample_rate), "audio/wav"),
                model=self.model,
                language=language if language else groq.omit,
                response_format="json",
                temperature=0.0,
            )
        return Transcript(text=result.text.strip(), language=language, audio_seconds=duration)

    async def check(self) -> ProviderHealth:
        """Asks for the model's card: proves the endpoint, the key and the model name."""
        return await probe("stt", NAME, self._model_card, local=False)

    async def _model_card(self) -> None:
        with _seam():
            await self._client.models.retrieve(self.model)

    async def aclose(self) -> None:
        await self._client.close()


@contextmanager
def _seam() -> Iterator[None]:
    try:
        yield
    except groq.APITimeoutError as exc:
        raise ProviderTimeout(NAME, "request timed out") from exc
    except groq.APIStatusError as exc:
        raise error_for_status(
            NAME, exc.status_code, _message(exc), dict(exc.response.headers)
        ) from exc
    except groq.APIError as exc:  # connection refused or reset, a body cut short, bad JSON
        raise ProviderUnavailable(NAME, f"{type(exc).__name__}: {exc}") from exc
    except httpx.TimeoutException as exc:
        raise ProviderTimeout(NAME, "request timed out") from exc
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(NAME, f"{type(exc).__name__}: {exc}") from exc


def _message(exc: groq.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    return exc.message
