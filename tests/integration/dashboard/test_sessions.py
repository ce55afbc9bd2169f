from __future__ import annotations

from typing import Any

import httpx

from tests.support.tenants import TenantKeys


async def _login(http: httpx.AsyncClient, tenant: TenantKeys) -> dict[str, Any]:
    response = await http.post(
        "/v1/auth/login", json={"email": tenant.email, "password": tenant.password}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_refresh_rotates_the_refresh_token(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    session = await _login(http, tenant)
    rotated = await http.post("/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["refresh_token"] != session["refresh_token"]
    assert body["session_id"] == session["session_id"]
    assert (await http.get("/v1/me", headers=_bearer(body["access_token"]))).status_code == 200
    again = await http.post("/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert again.status_code == 200


async def test_reused_refresh_token_revokes_the_whole_family(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    session = await _login(http, tenant)
    stolen = session["refresh_token"]
    legit = (await http.post("/v1/auth/refresh", json={"refresh_token": stolen})).json()

    replay = await http.post("/v1/auth/refresh", json={"refresh_token": stolen})
    assert replay.status_code == 401
    assert replay.json()["reason"] == "refresh_token_reuse"
    # The legitimate holder's newer tokens die with the family.
    latest = await http.post("/v1/auth/refresh", json={"refresh_token": legit["refresh_token"]})
    assert latest.status_code == 401
    assert (await http.get("/v1/me", headers=_bearer(legit["access_token"]))).status_code == 401
    # Other log-ins of the same user are untouched.
    assert (await http.get("/v1/me", headers=tenant.user_headers)).status_code == 200


async def test_unknown_refresh_token_is_refused(http: httpx.AsyncClient) -> None:
    for token in ("prt_nope", "garbage"):
        response = await http.post("/v1/auth/refresh", json={"refresh_token": token})
        assert response.status_code == 401


async def test_logout_ends_the_session_and_its_refresh_tokens(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    session = await _login(http, tenant)
    out = await http.post("/v1/auth/logout", headers=_bearer(session["access_token"]))
    assert out.status_code == 204
    assert (await http.get("/v1/me", headers=_bearer(session["access_token"]))).status_code == 401
    refresh = await http.post("/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert refresh.status_code == 401
    assert (await http.get("/v1/me", headers=tenant.user_headers)).status_code == 200


async def test_logout_needs_a_user_token(http: httpx.AsyncClient, tenant: TenantKeys) -> None:
    assert (await http.post("/v1/auth/logout", headers=tenant.secret_headers)).status_code == 403


async def test_password_change_revokes_every_session(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    other_device = await _login(http, tenant)
    changed = await http.post(
        "/v1/auth/password",
        headers=tenant.user_headers,
        json={"current_password": tenant.password, "new_password": "a brand new password"},
    )
    assert changed.status_code == 200, changed.text
    fresh = changed.json()
    for token in (tenant.access_token, other_device["access_token"]):
        assert (await http.get("/v1/me", headers=_bearer(token))).status_code == 401
    old_refresh = await http.post(
        "/v1/auth/refresh", json={"refresh_token": other_device["refresh_token"]}
    )
    assert old_refresh.status_code == 401
    assert (await http.get("/v1/me", headers=_bearer(fresh["access_token"]))).status_code == 200
    old_login = await http.post(
        "/v1/auth/login", json={"email": tenant.email, "password": tenant.password}
    )
    assert old_login.status_code == 401
    new_login = await http.post(
        "/v1/auth/login", json={"email": tenant.email, "password": "a brand new password"}
    )
    assert new_login.status_code == 200


async def test_password_change_needs_the_current_password(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    response = await http.post(
        "/v1/auth/password",
        headers=tenant.user_headers,
        json={"current_password": "not it at all", "new_password": "a brand new password"},
    )
    assert response.status_code == 403
    assert (await http.get("/v1/me", headers=tenant.user_headers)).status_code == 200
