"""Expected refusals log one line at info or warning, never a traceback at error level."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.support.tenants import create_tenant


async def test_refusals_log_one_line_without_a_traceback(
    http: httpx.AsyncClient, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    owner = await create_tenant(database_url)
    caplog.set_level(logging.DEBUG)
    refusals = [
        # Billing without Stripe configured: 503.
        ("POST", "/v1/billing/checkout", {"plan": "pro"}, owner.user_headers, 503),
        # An unsigned, unauthenticated webhook post.
        ("POST", "/v1/billing/webhooks/stripe", {"id": "evt_1"}, {}, 503),
        # Client errors.
        ("GET", "/v1/bots", None, {}, 401),
        ("GET", "/v1/nothing-here", None, {}, 404),
        ("POST", "/v1/bots", {"name": 1}, owner.user_headers, 400),
    ]
    for method, path, body, headers, status in refusals:
        caplog.clear()
        response = await http.request(method, path, json=body, headers=headers)
        assert response.status_code == status, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == [], path
        refused = [r for r in caplog.records if r.name == "parley.errors"]
        if status >= 500:
            assert len(refused) == 1, path
            assert refused[0].levelno == logging.WARNING
            assert "\n" not in refused[0].getMessage()
        else:
            assert refused == [], path
