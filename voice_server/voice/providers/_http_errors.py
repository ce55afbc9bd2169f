"""HTTP status to :class:`ProviderError`: the one ladder both cloud adapters use at their seam."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

from voice_server.voice.providers.base import (
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)


def error_for_status(
    provider: str, status: int, detail: str, headers: Mapping[str, str] | None = None
) -> ProviderError:
    if status in (401, 403):
        return ProviderAuthError(provider, f"{status}: {detail}")
    if status == 429:
        return ProviderRateLimited(provider, detail, retry_after_s=retry_after(headers or {}))
    if status in (408, 504):
        return ProviderTimeout(provider, f"{status}: {detail}")
    if 400 <= status < 500:
        return ProviderBadRequest(provider, f"{status}: {detail}")
    return ProviderUnavailable(provider, f"{status}: {detail}")


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    lowered = {key.lower(): value for key, value in headers.items()}
    if (millis := lowered.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
