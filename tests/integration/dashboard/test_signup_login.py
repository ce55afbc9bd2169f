from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings
from tests.support.tenants import TenantKeys, create_tenant
from voice_server.settings import Settings

PASSWORD = "a long enough password"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """These tests sign up several organisations: a hosted service's open sign-up."""
    return make_settings(tmp_path, database_url=database_url, signup="open")


async def _signup(http: httpx.AsyncClient, email: str, tenant_name: str = "Acme") -> httpx.Response:
    return await http.post(
        "/v1/auth/signup",
        json={"email": email, "password": PASSWORD, "tenant_name": tenant_name},
    )


async def test_signup_creates_an_owner_who_can_call_the_api(http: httpx.AsyncClient) -> None:
    response = await _signup(http, "Owner@Shop.Example", "Shop & Co")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["user"]["email"] == "owner@shop.example"
    assert body["user"]["role"] == "owner"
    assert body["tenant"]["slug"].startswith("shop-co-")
    assert body["tenant"]["plan"] == "free"
    me = await http.get("/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["tenant_id"] == body["tenant"]["id"]
    assert me.json()["kind"] == "user"
    assert me.json()["role"] == "owner"
    assert "keys:write" in me.json()["scopes"]


async def test_login_with_the_right_password_only(http: httpx.AsyncClient) -> None:
    await _signup(http, "owner@shop.example")
    ok = await http.post(
        "/v1/auth/login", json={"email": "OWNER@shop.example", "password": PASSWORD}
    )
    assert ok.status_code == 200, ok.text
    assert (
        await http.get("/v1/me", headers={"Authorization": "Bearer " + ok.json()["access_token"]})
    ).status_code == 200

    wrong = await http.post(
        "/v1/auth/login", json={"email": "owner@shop.example", "password": "nope-nope"}
    )
    unknown = await http.post(
        "/v1/auth/login", json={"email": "nobody@shop.example", "password": PASSWORD}
    )
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        # The same answer whether or not the email exists.
        assert response.json()["detail"] == "wrong email or password"


async def test_one_email_in_two_tenants_picks_with_the_tenant_field(
    http: httpx.AsyncClient,
) -> None:
    first = (await _signup(http, "owner@shop.example", "First")).json()
    second = (await _signup(http, "owner@shop.example", "Second")).json()
    ambiguous = await http.post(
        "/v1/auth/login", json={"email": "owner@shop.example", "password": PASSWORD}
    )
    assert ambiguous.status_code == 400
    assert sorted(ambiguous.json()["tenants"]) == sorted(
        [first["tenant"]["slug"], second["tenant"]["slug"]]
    )
    chosen = await http.post(
        "/v1/auth/login",
        json={
            "email": "owner@shop.example",
            "password": PASSWORD,
            "tenant": second["tenant"]["slug"],
        },
    )
    assert chosen.status_code == 200
    assert chosen.json()["tenant"]["id"] == second["tenant"]["id"]


async def test_signup_refuses_bad_input_with_problem_json(http: httpx.AsyncClient) -> None:
    cases = [
        {"email": "not-an-email", "password": PASSWORD, "tenant_name": "A"},
        {"email": "a@b.example", "password": "short", "tenant_name": "A"},
        {"email": "a@b.example", "password": PASSWORD, "tenant_name": ""},
        {"email": "a@b.example", "password": PASSWORD},
        {"email": "a@b.example", "password": PASSWORD, "tenant_name": "A", "role": "admin"},
    ]
    for body in cases:
        response = await http.post("/v1/auth/signup", json=body)
        assert response.status_code == 400, body
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_fixture_tenant_user_can_log_in(database_url: str, http: httpx.AsyncClient) -> None:
    tenant: TenantKeys = await create_tenant(database_url)
    response = await http.post(
        "/v1/auth/login", json={"email": tenant.email, "password": tenant.password}
    )
    assert response.status_code == 200
    assert response.json()["user"]["id"] == str(tenant.user_id)
