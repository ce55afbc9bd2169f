"""The speech capabilities and their error tree. Vendor adapters translate their SDK's errors
into :class:`ProviderError` subclasses at the seam; the pipeline decides on retries by category.

    ProviderError                    category
    ├── ProviderTimeout              transient
    ├── ProviderRateLimited          transient (retry_after_s)
    ├── ProviderUnavailable          transient (5xx, connection refused, stream cut)
    ├── ProviderAuthError            permanent (401/403: bad or missing key)
    └── ProviderBadRequest           permanent (400/404/422: we sent something wrong)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

ErrorCategory = Literal["transient", "permanent"]


class ProviderError(Exception):
    category: ErrorCategory = "permanent"
    code = "provider_error"

    def __init__(self, provider: str, detail: str) -> None:
        super().__init__(f"{provider}: {detail}")
        self.provider = provider
        self.detail = detail


class ProviderTimeout(ProviderError):
    category = "transient"
    code = "provider_timeout"


class ProviderRateLimited(ProviderError):
    category = "transient"
    code = "provider_rate_limited"

    def __init__(self, provider: str, detail: str, retry_after_s: float | None = None) -> None:
        super().__init__(provider, detail)
        self.retry_after_s = retry_after_s


class ProviderUnavailable(ProviderError):
    category = "transient"
    code = "provider_unavailable"


class ProviderAuthError(ProviderError):
    code = "provider_auth"


class ProviderBadRequest(ProviderError):
    code = "provider_bad_request"


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
