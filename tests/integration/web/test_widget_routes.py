"""The widget's script, the embed code's integrity, the public bot config, and the demo seeder."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import make_settings
from tests.support.server import serve_app
from tests.support.tenants import TenantKeys, create_tenant
from voice_server.app import create_app
from voice_server.web.bundle import DEFAULT_BUNDLE
from voice_server.web.demo import DEMO_SLUG, DEMO_TITLE


@pytest.fixture
async def tenant(database_url: str) -> TenantKeys:
    return await create_tenant(database_url)


async def test_script_is_served_plain_and_versioned(http: httpx.AsyncClient) -> None:
    plain = await http.get("/widget/parley.js")
    assert plain.status_code == 200
    assert plain.content == DEFAULT_BUNDLE.read_bytes()
    assert plain.headers["content-type"].startswith("text/javascript")
    assert plain.headers["cache-control"] == "public, max-age=300"
    assert plain.headers["access-control-allow-origin"] == "*"
    digest = hashlib.sha256(plain.content).hexdigest()[:16]
    versioned = await http.get(f"/widget/parley.{digest}.js")
    assert versioned.status_code == 200
    assert "immutable" in versioned.headers["cache-control"]
    stale = await http.get("/widget/parley.0000000000000000.js")
    assert stale.status_code == 404
    assert stale.headers["content-type"] == "application/problem+json"


async def test_embed_code_pins_the_served_bytes(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    embed = (await http.get(f"/v1/bots/{tenant.bot_id}/embed", headers=tenant.user_headers)).json()
    snippet = embed["snippet"]
    src = snippet.split('src="', 1)[1].split('"', 1)[0]
    integrity = snippet.split('integrity="', 1)[1].split('"', 1)[0]
    body = (await http.get(src)).content
    assert integrity == "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()
    assert 'crossorigin="anonymous"' in snippet
    assert f'data-bot-id="{tenant.bot_id}"' in snippet


async def test_public_config_needs_the_bots_key_from_an_allowed_origin(
    http: httpx.AsyncClient, tenant: TenantKeys, database_url: str
) -> None:
    url = f"/v1/bots/{tenant.bot_id}/public"
    ok = await http.get(url, headers=tenant.widget_headers)
    assert ok.status_code == 200
    body = ok.json()
    assert body["name"] == "Support"
    assert body["appearance"]["primary_color"] == "#4f46e5"
    assert "allowed_origins" not in body
    assert "system_prompt" not in body
    # ?key= works too (no preflight for a cross-origin GET)
    by_query = await http.get(url, params={"key": tenant.publishable_key})
    assert by_query.status_code == 200

    assert (await http.get(url)).status_code == 401
    foreign = await http.get(
        url, headers={"X-Parley-Key": tenant.publishable_key, "Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    other = await create_tenant(database_url)
    cross = await http.get(f"/v1/bots/{other.bot_id}/public", headers=tenant.widget_headers)
    assert cross.status_code == 404
    secret = await http.get(url, headers={"X-Parley-Key": tenant.secret_key})
    assert secret.status_code == 401


async def _demo_state(database_url: str) -> tuple[int, int, int, list[str]]:
    conn = await asyncpg.connect(database_url)
    try:
        tenants = await conn.fetchval("SELECT count(*) FROM tenants WHERE slug = $1", DEMO_SLUG)
        docs = await conn.fetchval("SELECT count(*) FROM documents WHERE title = $1", DEMO_TITLE)
        keys = await conn.fetchval(
            "SELECT count(*) FROM api_keys k JOIN tenants t ON t.id = k.tenant_id "
            "WHERE t.slug = $1",
            DEMO_SLUG,
        )
        origins = await conn.fetchval(
            "SELECT allowed_origins FROM api_keys k JOIN tenants t ON t.id = k.tenant_id "
            "WHERE t.slug = $1 LIMIT 1",
            DEMO_SLUG,
        )
    finally:
        await conn.close()
    return tenants, docs, keys, list(origins or [])


async def test_demo_is_seeded_once_follows_the_port_and_goes_when_off(
    tmp_path: Path, database_url: str
) -> None:
    for port in (8123, 8124):  # a restart on another port
        settings = make_settings(tmp_path, database_url=database_url, demo=True, port=port)
        async with serve_app(create_app(settings)) as url, httpx.AsyncClient() as client:
            page = await client.get(url + "/")
            assert page.status_code == 200
            assert "script-src 'self' 'nonce-" in page.headers["content-security-policy"]
            assert 'data-key="ppk_' in page.text
    tenants, docs, keys, origins = await _demo_state(database_url)
    assert (tenants, docs, keys) == (1, 1, 1)
    assert origins == ["http://127.0.0.1:8124", "http://localhost:8124"]

    settings = make_settings(tmp_path, database_url=database_url, demo=False)
    async with serve_app(create_app(settings)) as url, httpx.AsyncClient() as client:
        assert (await client.get(url + "/")).status_code == 404
    assert await _demo_state(database_url) == (0, 0, 0, [])
