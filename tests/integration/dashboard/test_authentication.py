from __future__ import annotations

import json
from uuid import UUID

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from dashboard_api.repositories import api_keys, sessions
from tests.support.tenants import TenantKeys


def _problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    return body


async def test_secret_key_authenticates_as_its_tenant(
    http: httpx.AsyncClient, tenant: TenantKeys, database_url: str
) -> None:
    response = await http.get("/v1/me", headers=tenant.secret_headers)
    assert response.status_code == 200
    me = response.json()
    assert (me["tenant_id"], me["kind"], me["bot_id"]) == (
        str(tenant.tenant_id),
        "secret_key",
        None,
    )
    assert "bots:read" in me["scopes"]
    conn = await asyncpg.connect(database_url)
    try:
        last_used = await conn.fetchval(
            "SELECT last_used_at FROM api_keys WHERE id = $1", UUID(me["key_id"])
        )
    finally:
        await conn.close()
    assert last_used is not None


async def test_revoked_key_is_refused_on_the_next_request(
    http: httpx.AsyncClient, tenant: TenantKeys, database_url: str
) -> None:
    first = await http.get("/v1/me", headers=tenant.secret_headers)
    assert first.status_code == 200
    conn = await asyncpg.connect(database_url)
    try:
        await api_keys.revoke(conn, tenant.tenant_id, UUID(first.json()["key_id"]))
    finally:
        await conn.close()
    second = await http.get("/v1/me", headers=tenant.secret_headers)
    _problem(second, 401)


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer psk_abcdefghijkl_" + "A" * 40,  # well-formed, unknown
        "Bearer psk_nonsense",
        "Bearer not.a.jwt",
        "Bearer",
        "Basic dXNlcjpwYXNz",
    ],
)
async def test_bad_credentials_are_401_problems(
    http: httpx.AsyncClient, tenant: TenantKeys, authorization: str
) -> None:
    _problem(await http.get("/v1/me", headers={"Authorization": authorization}), 401)


async def test_no_credentials_is_401(http: httpx.AsyncClient) -> None:
    body = _problem(await http.get("/v1/me"), 401)
    assert "Authorization" in str(body["detail"])


async def test_secret_key_with_a_swapped_secret_is_refused(
    http: httpx.AsyncClient, tenant: TenantKeys, other_tenant: TenantKeys
) -> None:
    prefix = tenant.secret_key.rsplit("_", 1)[0]
    forged = prefix + "_" + other_tenant.secret_key.rsplit("_", 1)[1]
    _problem(await http.get("/v1/me", headers={"Authorization": f"Bearer {forged}"}), 401)


async def test_publishable_key_from_its_origin_is_bound_to_its_bot(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    response = await http.get("/v1/me", headers=tenant.widget_headers)
    assert response.status_code == 200
    me = response.json()
    assert me["kind"] == "publishable_key"
    assert me["bot_id"] == str(tenant.bot_id)
    assert me["tenant_id"] == str(tenant.tenant_id)
    assert "bots:write" not in me["scopes"]


async def test_publishable_key_in_the_query_string(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    response = await http.get(
        "/v1/me", params={"key": tenant.publishable_key}, headers={"Origin": tenant.origin}
    )
    assert response.status_code == 200
    assert response.json()["kind"] == "publishable_key"


@pytest.mark.parametrize(
    "origin",
    [None, "https://evil.example", "http://shop.example", "https://shop.example.evil.example"],
)
async def test_publishable_key_from_another_origin_is_403(
    http: httpx.AsyncClient, tenant: TenantKeys, origin: str | None
) -> None:
    headers = {"X-Parley-Key": tenant.publishable_key}
    if origin is not None:
        headers["Origin"] = origin
    _problem(await http.get("/v1/me", headers=headers), 403)


async def test_secret_key_is_never_taken_from_the_url(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    response = await http.get(
        "/v1/me", params={"key": tenant.secret_key}, headers={"Origin": tenant.origin}
    )
    _problem(response, 401)


async def test_user_token_stops_working_when_its_session_is_revoked(
    http: httpx.AsyncClient, tenant: TenantKeys, database_url: str
) -> None:
    assert (await http.get("/v1/me", headers=tenant.user_headers)).status_code == 200
    conn = await asyncpg.connect(database_url)
    try:
        await sessions.revoke_all_for_user(conn, tenant.tenant_id, tenant.user_id, "test")
    finally:
        await conn.close()
    _problem(await http.get("/v1/me", headers=tenant.user_headers), 401)


async def test_user_token_of_a_deleted_user_is_refused(
    http: httpx.AsyncClient, tenant: TenantKeys, database_url: str
) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("DELETE FROM users WHERE id = $1", tenant.user_id)
    finally:
        await conn.close()
    _problem(await http.get("/v1/me", headers=tenant.user_headers), 401)


def _ws_url(base: str, **params: str) -> str:
    url = base.replace("http://", "ws://") + "/test/ws/principal"
    if params:
        url += "?" + str(httpx.QueryParams(params))
    return url


async def test_websocket_accepts_a_publishable_key_from_its_origin(
    ws_server_url: str, tenant: TenantKeys
) -> None:
    url = _ws_url(ws_server_url, key=tenant.publishable_key)
    async with connect(url, origin=tenant.origin) as socket:  # type: ignore[arg-type]
        hello = json.loads(await socket.recv())
    assert hello == {
        "tenant_id": str(tenant.tenant_id),
        "kind": "publishable_key",
        "bot_id": str(tenant.bot_id),
    }


async def test_websocket_refuses_a_foreign_origin(ws_server_url: str, tenant: TenantKeys) -> None:
    url = _ws_url(ws_server_url, key=tenant.publishable_key)
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, origin="https://evil.example"):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403


async def test_websocket_refuses_a_missing_key(ws_server_url: str) -> None:
    with pytest.raises(InvalidStatus):
        async with connect(_ws_url(ws_server_url)):
            pass


async def test_websocket_accepts_a_secret_key_in_the_header(
    ws_server_url: str, tenant: TenantKeys
) -> None:
    async with connect(_ws_url(ws_server_url), additional_headers=tenant.secret_headers) as socket:
        hello = json.loads(await socket.recv())
    assert hello["kind"] == "secret_key"
    assert hello["tenant_id"] == str(tenant.tenant_id)
