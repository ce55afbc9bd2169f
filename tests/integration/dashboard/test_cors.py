"""CORS for the widget's routes, from the publishable keys' allowed origins only, with real
preflights over a real socket."""

from __future__ import annotations

import httpx

from tests.support.tenants import TenantKeys

EVIL = "https://evil.example"


def _preflight_headers(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "content-type,x-parley-key",
    }


def _widget_paths(tenant: TenantKeys) -> list[str]:
    return [
        f"/v1/bots/{tenant.bot_id}/sessions",
        f"/v1/bots/{tenant.bot_id}/chat",
        "/v1/feedback",
    ]


async def test_a_preflight_from_the_keys_origin_is_answered_with_that_origin(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    for path in _widget_paths(tenant):
        response = await http.options(path, headers=_preflight_headers(tenant.origin))
        assert response.status_code == 204, path
        assert response.headers["access-control-allow-origin"] == tenant.origin
        assert "POST" in response.headers["access-control-allow-methods"]
        allowed = response.headers["access-control-allow-headers"].lower()
        assert "x-parley-key" in allowed
        assert "content-type" in allowed
        assert response.headers["vary"] == "Origin"
        assert "access-control-allow-credentials" not in response.headers


async def test_a_foreign_origin_gets_no_allow_headers(
    http: httpx.AsyncClient, tenant: TenantKeys, other_tenant: TenantKeys
) -> None:
    # Another tenant's origin is not this bot's, even though a key somewhere allows it.
    for origin in (EVIL, other_tenant.origin, "null", tenant.origin + ".evil.example"):
        for path in _widget_paths(tenant)[:2]:
            response = await http.options(path, headers=_preflight_headers(origin))
            assert response.status_code == 204
            assert not [h for h in response.headers if h.startswith("access-control-allow")]
            assert response.headers["vary"] == "Origin"


async def test_the_real_request_carries_the_allow_origin_too(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    issued = await http.post(f"/v1/bots/{tenant.bot_id}/sessions", headers=tenant.widget_headers)
    assert issued.status_code == 201
    assert issued.headers["access-control-allow-origin"] == tenant.origin
    assert "x-request-id" in issued.headers["access-control-expose-headers"].lower()
    foreign = await http.post(
        f"/v1/bots/{tenant.bot_id}/sessions",
        headers={"X-Parley-Key": tenant.publishable_key, "Origin": EVIL},
    )
    assert foreign.status_code == 403
    assert "access-control-allow-origin" not in foreign.headers


async def test_owner_routes_get_no_cors_at_all(http: httpx.AsyncClient, tenant: TenantKeys) -> None:
    for path in ("/v1/bots", f"/v1/bots/{tenant.bot_id}", "/v1/keys", "/v1/auth/login"):
        response = await http.options(path, headers=_preflight_headers(tenant.origin))
        assert "access-control-allow-origin" not in response.headers, path


async def test_a_revoked_key_stops_answering_for_its_origin(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    keys = (await http.get("/v1/keys", headers=tenant.user_headers)).json()["items"]
    for key in keys:
        if key["kind"] == "publishable":
            revoked = await http.delete(f"/v1/keys/{key['id']}", headers=tenant.user_headers)
            assert revoked.status_code in (200, 204)
    response = await http.options(
        f"/v1/bots/{tenant.bot_id}/chat", headers=_preflight_headers("https://shop.example")
    )
    # Cached answers last 30 s at most; this origin was never asked before the revocation.
    assert "access-control-allow-origin" not in response.headers
