"""The console's pages over real HTTP: sign-up to a bot, a document, a conversation, keys."""

from __future__ import annotations

import re
from pathlib import Path

import asyncpg
import httpx

from tests.conftest import make_settings
from tests.integration.console.conftest import Console, csrf_of, sign_up
from tests.support.server import serve_app
from voice_server.app import create_app


async def test_every_page_renders_for_a_new_owner(console: Console) -> None:
    for path in (
        "/console/bots",
        "/console/bots/new",
        "/console/knowledge",
        "/console/conversations",
        "/console/analytics",
        "/console/keys",
        "/console/billing",
        "/console/team",
    ):
        response = await console.get(path)
        assert response.status_code == 200, (path, response.text[:500])
        assert "text/html" in response.headers["content-type"]
        policy = response.headers["content-security-policy"]
        assert "script-src 'self' 'nonce-" in policy
        assert "unsafe-inline" not in policy
        # No inline script: every <script> tag loads a file and carries the nonce.
        nonce = policy.split("'nonce-")[1].split("'")[0]
        for tag in response.text.split("<script")[1:]:
            assert f'nonce="{nonce}"' in tag.split(">")[0]
            assert "src=" in tag.split(">")[0]


async def test_bot_lifecycle_and_try_it(console: Console) -> None:
    await console.get("/console/bots/new")
    created = await console.post(
        "/console/bots/new",
        {
            "name": "Support",
            "greeting": "Hi! How can I help?",
            "system_prompt": "Be brief.",
            "speed": "1.1",
            "end_of_turn_silence_ms": "1000",
            "knowledge_scope": "tenant",
            "primary_color": "#112233",
            "text_color": "#ffffff",
            "position": "bottom-left",
            "allowed_origins": "https://shop.example",
        },
    )
    assert created.status_code == 303, created.text
    bot_path = created.headers["location"]
    detail = await console.get(bot_path)
    assert "Support" in detail.text
    assert "1000 ms" in detail.text

    edit = await console.get(bot_path + "/edit")
    assert 'value="Hi! How can I help?"' in edit.text
    bad = await console.post(bot_path + "/edit", {"name": "Support", "speed": "9"})
    assert bad.status_code == 400
    assert "speed must be between" in bad.text

    answer = await console.post(bot_path + "/try", {"question": "What are your opening hours?"})
    assert answer.status_code == 200, answer.text
    assert "Open this conversation" in answer.text
    conversations = await console.get("/console/conversations")
    assert "What are your opening hours?" in conversations.text

    copy = await console.post(bot_path + "/duplicate")
    assert copy.status_code == 303
    assert "Support (copy)" in (await console.get(copy.headers["location"])).text
    gone = await console.post(copy.headers["location"] + "/delete")
    assert gone.status_code == 303
    assert (await console.get(copy.headers["location"])).status_code == 404


async def test_keys_secret_shown_once_then_prefix_only_and_revoked(console: Console) -> None:
    await console.get("/console/keys")
    made = await console.post("/console/keys/", {"kind": "secret", "name": "server"})
    assert made.status_code == 201, made.text
    secret = made.text.split('<code id="new-key">')[1].split("</code>")[0]
    assert secret.startswith("psk_")
    listing = await console.get("/console/keys")
    assert secret not in listing.text
    async with httpx.AsyncClient(base_url=str(console.http.base_url)) as api:
        headers = {"Authorization": f"Bearer {secret}"}
        assert (await api.get("/v1/bots", headers=headers)).status_code == 200
        key_id = re.findall(r"/console/keys/([0-9a-f-]{36})/revoke", listing.text)[0]
        revoked = await console.post(f"/console/keys/{key_id}/revoke")
        assert revoked.status_code == 303
        assert (await api.get("/v1/bots", headers=headers)).status_code == 401


async def test_sign_out_ends_the_session(console: Console) -> None:
    out = await console.post("/console/sign-out")
    assert out.status_code == 303
    again = await console.http.get("/console/bots")
    assert again.status_code == 303
    assert again.headers["location"].startswith("/console/sign-in")


async def test_wrong_password_is_a_readable_page(console_url: str) -> None:
    async with httpx.AsyncClient(base_url=console_url) as http:
        form = await http.get("/console/sign-in")
        response = await http.post(
            "/console/sign-in",
            data={"csrf_token": csrf_of(form.text), "email": "x@example.com", "password": "nope"},
        )
        assert response.status_code == 401
        assert "wrong email or password" in response.text


async def test_sign_up_respects_the_invite_mode_after_the_first_organisation(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url=database_url, signup="invite")
    async with serve_app(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        first = await sign_up(http, "First Ltd")  # the server's first organisation: allowed
        await first.post("/console/sign-out")
        page = await http.get("/console/sign-up")
        assert "by invitation only" in page.text
        refused = await http.post(
            "/console/sign-up",
            data={
                # A valid token (from the sign-in form), so the mode is what refuses it.
                "csrf_token": csrf_of((await http.get("/console/sign-in")).text),
                "tenant_name": "Second",
                "email": "second@example.com",
                "password": "correct horse battery staple",
            },
        )
        assert refused.status_code == 403
        assert "by invitation only" in refused.text
        conn = await asyncpg.connect(database_url)
        try:
            assert await conn.fetchval("SELECT count(*) FROM tenants") == 1
        finally:
            await conn.close()
