"""Provider health probes, for ``GET /v1/voice/health``: which engines are active and reachable.

Every adapter has ``async def check() -> ProviderHealth``; it never raises (a probe that fails
is a health answer, not an error). Offline engines prove that their library and model load;
cloud adapters make the cheapest authenticated call their vendor offers (Groq: the model's card;
Deepgram: the key's projects), so that a wrong key or base URL shows up before a caller speaks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Literal, Protocol, runtime_checkable

from voice_server.voice.providers.base import ProviderError

Capability = Literal["stt", "tts"]
DEFAULT_PROBE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class ProviderHealth:
    capability: Capability
    provider: str
    ok: bool
    local: bool  # runs in this process, no network
    latency_ms: float | None = None
    error: str | None = None  # the ProviderError code, e.g. provider_auth
    detail: str | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@runtime_checkable
class HealthChecked(Protocol):
    async def check(self) -> ProviderHealth: ...


async def probe(
    capability: Capability,
    provider: str,
    attempt: Callable[[], Awaitable[object]],
    *,
    local: bool,
    timeout_s: float = DEFAULT_PROBE_TIMEOUT_S,
) -> ProviderHealth:
    """Run ``attempt`` (which raises ProviderError on failure) within ``timeout_s``."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            await attempt()
    except TimeoutError:
        return ProviderHealth(
            capability, provider, False, local, None, "provider_timeout", "probe timed out"
        )
    except ProviderError as exc:
        return ProviderHealth(capability, provider, False, local, None, exc.code, exc.detail)
    elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    return ProviderHealth(capability, provider, True, local, elapsed_ms)


async def check_provider(capability: Capability, provider: object) -> ProviderHealth:
    """The provider's own probe, or a plain "active" for a provider without one."""
    if isinstance(provider, HealthChecked):
        return await provider.check()
    name = str(getattr(provider, "name", type(provider).__name__))
    return ProviderHealth(capability, name, True, local=True, detail="no probe")


async def check_providers(stt: object, tts: object) -> list[ProviderHealth]:
    """Probe both providers at once."""
    return list(await asyncio.gather(check_provider("stt", stt), check_provider("tts", tts)))
