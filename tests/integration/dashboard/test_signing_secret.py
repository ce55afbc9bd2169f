from __future__ import annotations

import logging
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import make_settings
from tests.support.server import serve_app
from tests.support.tenants import create_tenant
from voice_server.app import create_app
from voice_server.settings import SettingsError, load_settings


async def test_generated_secret_survives_a_restart_and_is_never_logged(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, database_url=database_url)
    caplog.set_level(logging.INFO, logger="parley.dashboard")
    async with serve_app(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        signup = await http.post(
            "/v1/auth/signup",
            json={"email": "o@shop.example", "password": "long enough pw", "tenant_name": "A"},
        )
        token = signup.json()["access_token"]
    assert "generated a token-signing secret" in caplog.text

    conn = await asyncpg.connect(database_url)
    try:
        secret: bytes = await conn.fetchval("SELECT secret FROM auth_signing_secrets")
    finally:
        await conn.close()
    assert secret.hex() not in caplog.text
    assert repr(secret) not in caplog.text

    caplog.clear()
    async with serve_app(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        me = await http.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, "a restart must keep sessions valid"
    assert "generated a token-signing secret" not in caplog.text


async def test_configured_secret_signs_the_tokens(tmp_path: Path, database_url: str) -> None:
    configured = "c" * 40
    settings = make_settings(tmp_path, database_url=database_url, jwt_secret=configured)
    tenant = await create_tenant(database_url, jwt_secret=configured)
    generated = await create_tenant(database_url)  # signed with the database's secret instead
    async with serve_app(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        ok = await http.get("/v1/me", headers=tenant.user_headers)
        refused = await http.get("/v1/me", headers=generated.user_headers)
    assert ok.status_code == 200
    assert refused.status_code == 401


def test_short_configured_secret_stops_start_up() -> None:
    with pytest.raises(SettingsError, match="PARLEY_JWT_SECRET"):
        load_settings(_env_file=None, jwt_secret="too-short")
