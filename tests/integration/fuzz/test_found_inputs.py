"""Inputs the schema fuzzer found answered with a 500, pinned as plain requests: each must be a
400 problem document now, whatever the fuzzer happens to generate on a later run."""

from __future__ import annotations

import httpx
import pytest

from tests.support.tenants import TenantKeys, create_tenant


@pytest.fixture
async def owner(database_url: str) -> TenantKeys:
    return await create_tenant(database_url, plan="unlimited")


def assert_invalid_input(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("/invalid-input")


async def test_text_with_nul_characters_is_invalid_input(
    http: httpx.AsyncClient, owner: TenantKeys
) -> None:
    # PostgreSQL text and jsonb cannot hold U+0000.
    bots = f"/v1/bots/{owner.bot_id}"
    for path, body in [
        (f"{bots}/preview", {"question": "open\u0000ing hours?"}),
        (f"{bots}/chat", {"message": "open\u0000ing hours?", "stream": False}),
        ("/v1/bots", {"name": "Sales\u0000"}),
        ("/v1/documents/url", {"url": "https://shop.example/\u0000"}),
        ("/v1/documents/drive", {"folder_id": "abc", "service_account": {"k\u0000": "v"}}),
    ]:
        assert_invalid_input(await http.post(path, json=body, headers=owner.user_headers))


async def test_a_drive_token_that_cannot_travel_in_a_header_is_invalid_input(
    http: httpx.AsyncClient, owner: TenantKeys
) -> None:
    response = await http.post(
        "/v1/documents/drive",
        json={"folder_id": "abc", "access_token": "ya29.é"},
        headers=owner.user_headers,
    )
    assert_invalid_input(response)


async def test_dates_and_offsets_out_of_range_are_invalid_input(
    http: httpx.AsyncClient, owner: TenantKeys
) -> None:
    for path, params in [
        ("/v1/analytics", {"until": "0001-01-01T09:12:18Z"}),
        ("/v1/conversations", {"since": "0001-01-01T00:00:00+01:00"}),
        (f"/v1/bots/{owner.bot_id}/conversations", {"offset": str(2**70)}),
        ("/v1/documents", {"offset": str(2**70)}),
    ]:
        assert_invalid_input(await http.get(path, params=params, headers=owner.user_headers))
