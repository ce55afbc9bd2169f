"""Text-to-speech with Deepgram Aura through the official ``deepgram-sdk`` (REST, streamed).

Audio is asked for as raw linear16 (``container=none``; Deepgram wraps linear16 in WAV
otherwise) at the caller's rate when Deepgram offers it, else at a rate it offers and resampled
here. Bytes are passed on as they arrive; an HTTP chunk may end mid-sample, so an odd byte is
carried to the next chunk. The base URL is set through the SDK's ``DeepgramClientEnvironment``.
The SDK's retries are off; errors are translated at the seam into the ProviderError tree.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any, Final

import httpx
from deepgram import AsyncDeepgramClient, DeepgramClientEnvironment
from deepgram.core.api_error import ApiError

from voice_server.voice.providers._http_errors import error_for_status
from voice_server.voice.providers._pcm import PcmResampler
from voice_server.voice.providers.base import (
    ProviderTimeout,
    ProviderUnavailable,
    VoiceOptions,
)
from voice_server.voice.providers.health import ProviderHealth, probe

NAME: Final = "deepgram"
DEFAULT_VOICE: Final = "aura-2-thalia-en"
SAMPLE_RATES: Final = (8000, 16000, 24000, 32000, 48000)  # what linear16 offers
MAX_CHARS: Final = 2000  # Deepgram's limit per request
SPEED_RANGE: Final = (0.7, 1.5)


class DeepgramTTS:
    """:class:`~voice_server.voice.providers.base.TextToSpeech` with Deepgram Aura.

    ``VoiceOptions.voice`` is an Aura model (``aura-2-thalia-en``...); speed is sent within
    Deepgram's range, pitch is not offered by Deepgram and is ignored.
    """

    name = NAME

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.deepgram.com",
        default_voice: str | None = None,
        timeout_s: float = 15.0,
    ) -> None:
        self.default_voice = default_voice or DEFAULT_VOICE
        # Our own httpx client, so that aclose() can close it; its timeout applies to the
        # connection and to every read, i.e. to the first and to each next audio chunk.
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s))
        self._client = AsyncDeepgramClient(
            api_key=api_key, environment=environment_for(base_url), httpx_client=self._http
        )

    async def synthesize(
        self, text: str, *, sample_rate: int, options: VoiceOptions
    ) -> AsyncIterator[bytes]:
        if not text.strip():
            return
        voice = options.voice or self.default_voice
        wire_rate = min((rate for rate in SAMPLE_RATES if rate >= sample_rate), default=48000)
        # Resampling only happens for rates Deepgram lacks (e.g. 22050); chunks are ~100 ms, so
        # it costs microseconds per chunk and stays on the loop.
        resampler = PcmResampler(wire_rate, sample_rate)
        speed = None
        if options.speed != 1.0:
            speed = max(SPEED_RANGE[0], min(SPEED_RANGE[1], options.speed))
        carry = b""
        for piece in split_text(text, MAX_CHARS):
            with _seam():
                async for chunk in self._client.speak.v1.audio.generate(
                    text=piece,
                    model=voice,
                    encoding="linear16",
                    container="none",
                    sample_rate=wire_rate,
                    speed=speed,
                    request_options={"max_retries": 0},
                ):
                    data = carry + chunk
                    whole = len(data) - len(data) % 2
                    carry = data[whole:]
                    if pcm := resampler.feed(data[:whole]):
                        yield pcm
        if tail := resampler.flush():
            yield tail

    async def check(self) -> ProviderHealth:
        """Lists the key's projects: proves the endpoint and the key without buying speech."""
        return await probe("tts", NAME, self._projects, local=False)

    async def _projects(self) -> None:
        with _seam():
            await self._client.manage.v1.projects.list(request_options={"max_retries": 0})

    async def aclose(self) -> None:
        await self._http.aclose()


def environment_for(base_url: str) -> DeepgramClientEnvironment:
    base = base_url.rstrip("/")
    websocket = re.sub(r"^http", "ws", base)
    production = DeepgramClientEnvironment.PRODUCTION
    return DeepgramClientEnvironment(
        base=base, production=websocket, agent=production.agent, agent_rest=production.agent_rest
    )


def split_text(text: str, limit: int) -> Iterator[str]:
    """Pieces of at most ``limit`` characters, cut after a sentence or at a space if possible."""
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind(". "), window.rfind("? "), window.rfind("! "))
        if cut <= 0:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = limit - 1
        yield rest[: cut + 1].strip()
        rest = rest[cut + 1 :].strip()
    if rest:
        yield rest


@contextmanager
def _seam() -> Iterator[None]:
    try:
        yield
    except ApiError as exc:
        raise error_for_status(
            NAME, exc.status_code or 500, _message(exc.body), dict(exc.headers or {})
        ) from exc
    except httpx.TimeoutException as exc:
        raise ProviderTimeout(NAME, "no audio within the timeout") from exc
    except httpx.HTTPError as exc:  # refused, reset, or the stream cut halfway
        raise ProviderUnavailable(NAME, f"{type(exc).__name__}: {exc}") from exc


def _message(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("err_msg", "message", "reason"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return str(body)[:200]
