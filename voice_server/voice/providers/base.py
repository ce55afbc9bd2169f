"""The speech capabilities. Their errors are the one vendor tree of :mod:`voice_server.vendors`
(shared with the language model), re-exported here for the adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from voice_server.vendors import (
    ErrorCategory,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)

__all__ = [
    "ErrorCategory",
    "ProviderAuthError",
    "ProviderBadRequest",
    "ProviderError",
    "ProviderRateLimited",
    "ProviderTimeout",
    "ProviderUnavailable",
    "SpeechToText",
    "TextToSpeech",
    "Transcript",
    "VoiceOptions",
]


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str | None = None
    # Seconds of audio transcribed; providers bill and we meter by it.
    audio_seconds: float = 0.0


@dataclass(frozen=True)
class VoiceOptions:
    voice: str | None = None  # provider-specific voice id; None: the provider's default
    speed: float = 1.0  # 1.0 = normal
    pitch: float = 1.0  # 1.0 = normal; ignored where the provider has no pitch control
    language: str = "en"


@runtime_checkable
class SpeechToText(Protocol):
    name: str

    async def transcribe(
        self, pcm16: bytes, sample_rate: int, *, language: str | None = None
    ) -> Transcript:
        """Transcribe mono PCM16 little-endian audio. Raises ProviderError."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class TextToSpeech(Protocol):
    name: str

    def synthesize(
        self, text: str, *, sample_rate: int, options: VoiceOptions
    ) -> AsyncIterator[bytes]:
        """Yield mono PCM16 little-endian audio at ``sample_rate`` as soon as it is produced.
        Chunk sizes are arbitrary (the pacer reframes them). Raises ProviderError."""
        ...

    async def aclose(self) -> None: ...
