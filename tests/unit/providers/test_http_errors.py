from __future__ import annotations

import email.utils
import time

import pytest

from voice_server.voice.providers._http_errors import error_for_status, retry_after
from voice_server.voice.providers.base import (
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)


@pytest.mark.parametrize(
    ("status", "kind", "category"),
    [
        (400, ProviderBadRequest, "permanent"),
        (401, ProviderAuthError, "permanent"),
        (403, ProviderAuthError, "permanent"),
        (404, ProviderBadRequest, "permanent"),
        (408, ProviderTimeout, "transient"),
        (413, ProviderBadRequest, "permanent"),
        (422, ProviderBadRequest, "permanent"),
        (429, ProviderRateLimited, "transient"),
        (500, ProviderUnavailable, "transient"),
        (503, ProviderUnavailable, "transient"),
        (504, ProviderTimeout, "transient"),
    ],
)
def test_statuses_map_to_categories(status: int, kind: type[ProviderError], category: str) -> None:
    error = error_for_status("vendor", status, "detail")
    assert type(error) is kind
    assert error.category == category
    assert error.provider == "vendor"


def test_retry_after_in_its_three_spellings() -> None:
    assert retry_after({"Retry-After": "7"}) == 7.0
    assert retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < (retry_after({"retry-after": later}) or 0) <= 30
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None
    error = error_for_status("vendor", 429, "slow down", {"retry-after": "3"})
    assert isinstance(error, ProviderRateLimited)
    assert error.retry_after_s == 3.0
