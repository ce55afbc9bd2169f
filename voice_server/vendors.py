"""One error tree for every vendor the server calls: speech-to-text, text-to-speech and the
language model. Adapters translate their SDK's errors into these at the seam; callers decide
on retries by ``category`` (the voice engine retries a transient error once where a retry cannot
repeat speech). Each is a :class:`~voice_server.errors.ServiceUnavailable`, so one that reaches
HTTP is a 503 problem document naming the vendor, never a traceback.

    ProviderError                    category
    ├── ProviderTimeout              transient
    ├── ProviderRateLimited          transient (retry_after_s)
    ├── ProviderUnavailable          transient (5xx, connection refused, stream cut)
    ├── ProviderAuthError            permanent (401/403: bad or missing key)
    └── ProviderBadRequest           permanent (400/404/422: we sent something wrong)

A server that is configured wrong (a model provider without its key) is not a vendor failure:
:class:`VendorMisconfigured` is a 500 problem document with a clear title.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import ClassVar, Literal

from voice_server.errors import ParleyError, ServiceUnavailable

ErrorCategory = Literal["transient", "permanent"]


class ProviderError(ServiceUnavailable):
    category: ClassVar[ErrorCategory] = "permanent"
    code: ClassVar[str] = "provider_error"  # the voice error event's code
    slug = "provider-error"
    title = "A speech or language model provider failed"

    def __init__(self, provider: str, detail: str) -> None:
        super().__init__(detail, provider=provider)
        self.args = (f"{provider}: {detail}",)
        self.provider = provider


class ProviderTimeout(ProviderError):
    category = "transient"
    code = "provider_timeout"
    slug = "provider-timeout"
    title = "A provider did not answer in time"


class ProviderRateLimited(ProviderError):
    category = "transient"
    code = "provider_rate_limited"
    slug = "provider-rate-limited"
    title = "A provider is rate limiting this server"

    def __init__(self, provider: str, detail: str, retry_after_s: float | None = None) -> None:
        super().__init__(provider, detail)
        self.retry_after_s = retry_after_s
        if retry_after_s is not None:
            self.extensions["retry_after_s"] = retry_after_s


class ProviderUnavailable(ProviderError):
    category = "transient"
    code = "provider_unavailable"
    slug = "provider-unavailable"
    title = "A provider is unavailable"


class ProviderAuthError(ProviderError):
    code = "provider_auth"
    slug = "provider-auth"
    title = "A provider refused this server's credentials"


class ProviderBadRequest(ProviderError):
    code = "provider_bad_request"
    slug = "provider-bad-request"
    title = "A provider refused the request"


class VendorMisconfigured(ParleyError):
    """The server's configuration names a vendor it cannot use (a missing key, say)."""

    status = 500
    slug = "vendor-misconfigured"
    title = "The server's speech or language model configuration is incomplete"


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
