from __future__ import annotations

import httpx

from tests.support.tenants import TenantKeys


async def test_secret_key_is_shown_once_and_works(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    created = await http.post(
        "/v1/keys",
        headers=tenant.user_headers,
        json={"kind": "secret", "name": "CI", "scopes": ["bots:read"]},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    key = body["key"]
    assert key.startswith(body["prefix"] + "_")
    assert body["scopes"] == ["bots:read"]

    listed = (await http.get("/v1/keys", headers=tenant.user_headers)).json()["items"]
    mine = next(k for k in listed if k["id"] == body["id"])
    assert mine["key"] is None, "a secret key is never shown again"
    assert mine["prefix"] == body["prefix"]
    assert mine["last_used_at"] is None

    auth = {"Authorization": f"Bearer {key}"}
    assert (await http.get("/v1/bots", headers=auth)).status_code == 200
    # Its scopes are enforced.
    assert (await http.post("/v1/bots", headers=auth, json={"name": "x"})).status_code == 403
    read = (await http.get(f"/v1/keys/{body['id']}", headers=tenant.user_headers)).json()
    assert read["last_used_at"] is not None


async def test_revoked_key_is_refused_from_the_next_request(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    created = (
        await http.post("/v1/keys", headers=tenant.user_headers, json={"kind": "secret"})
    ).json()
    auth = {"Authorization": f"Bearer {created['key']}"}
    assert (await http.get("/v1/me", headers=auth)).status_code == 200
    revoked = await http.delete(f"/v1/keys/{created['id']}", headers=tenant.user_headers)
    assert revoked.status_code == 204
    assert (await http.get("/v1/me", headers=auth)).status_code == 401
    listing = await http.get(
        "/v1/keys", headers=tenant.user_headers, params={"include_revoked": "true"}
    )
    assert any(k["id"] == created["id"] and k["revoked_at"] for k in listing.json()["items"])
    default = (await http.get("/v1/keys", headers=tenant.user_headers)).json()["items"]
    assert all(k["id"] != created["id"] for k in default)


async def test_publishable_key_for_a_bot_with_its_own_origins(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    created = await http.post(
        "/v1/keys",
        headers=tenant.user_headers,
        json={
            "kind": "publishable",
            "bot_id": str(tenant.bot_id),
            "allowed_origins": ["https://landing.example"],
        },
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("ppk_")
    ok = await http.get(
        "/v1/me", headers={"X-Parley-Key": key, "Origin": "https://landing.example"}
    )
    assert ok.status_code == 200
    assert ok.json()["bot_id"] == str(tenant.bot_id)


async def test_key_requests_are_validated(http: httpx.AsyncClient, tenant: TenantKeys) -> None:
    for body in (
        {"kind": "secret", "scopes": ["root"]},
        {"kind": "secret", "bot_id": str(tenant.bot_id)},
        {"kind": "publishable"},
        {"kind": "publishable", "bot_id": str(tenant.bot_id), "allowed_origins": []},
        {"kind": "publishable", "bot_id": str(tenant.bot_id), "allowed_origins": ["*"]},
        {"kind": "magic"},
    ):
        response = await http.post("/v1/keys", headers=tenant.user_headers, json=body)
        assert response.status_code == 400, (body, response.text)


async def test_api_keys_cannot_mint_keys(http: httpx.AsyncClient, tenant: TenantKeys) -> None:
    for headers in (tenant.secret_headers, tenant.widget_headers):
        response = await http.post("/v1/keys", headers=headers, json={"kind": "secret"})
        assert response.status_code == 403
