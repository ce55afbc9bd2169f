"""The console's doors: CSRF on every unsafe route, no entry with an API key (publishable or
secret), and another tenant's ids answering 404 on every console route with an id. The route
lists are generated from the app, so a new console route is covered as soon as it exists."""

from __future__ import annotations

import re
from uuid import UUID

import asyncpg
import httpx
from litestar.routes import HTTPRoute

from tests.integration.console.conftest import Console, sign_up
from tests.integration.dashboard import seed
from tests.support.tenants import TenantKeys, create_tenant
from voice_server.app import create_app
from voice_server.settings import Settings

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def console_routes(settings: Settings) -> list[tuple[str, str]]:
    app = create_app(settings)
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/console"):
            continue
        if route.path.startswith("/console/static"):
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods:
                if method not in ("HEAD", "OPTIONS"):
                    found.append((method, route.path))
    return sorted(found)


PUBLIC = {  # pages a visitor must reach to sign in at all
    ("GET", "/console/sign-in"),
    ("GET", "/console/sign-up"),
    ("GET", "/console/invitations/accept"),
    ("POST", "/console/sign-in"),
    ("POST", "/console/sign-up"),
    ("POST", "/console/invitations/accept"),
}


async def _a_with_everything(database_url: str) -> tuple[TenantKeys, dict[str, UUID]]:
    a = await create_tenant(database_url, name="Alpha")
    conn = await asyncpg.connect(database_url)
    try:
        talk = await seed.conversation(
            conn, a.tenant_id, a.bot_id, [("secret plans?", "here")], channel="voice"
        )
        await conn.execute(
            """INSERT INTO call_recordings (tenant_id, conversation_id, storage_key, layout)
               VALUES ($1, $2, $3, 'stereo')""",
            a.tenant_id,
            talk.conversation_id,
            f"{a.tenant_id}/alpha.ogg",
        )
        ids = {
            "bot_id": a.bot_id,
            "conversation_id": talk.conversation_id,
            "document_id": await conn.fetchval(
                """INSERT INTO documents (tenant_id, source_kind, title, status)
                   VALUES ($1, 'url', 'A private doc', 'ready') RETURNING id""",
                a.tenant_id,
            ),
            "key_id": await conn.fetchval(
                "SELECT id FROM api_keys WHERE tenant_id = $1 AND kind = 'secret'", a.tenant_id
            ),
            "user_id": a.user_id,
            "invitation_id": await conn.fetchval(
                """INSERT INTO invitations (tenant_id, email, role, token_hash, expires_at)
                   VALUES ($1, 'guest@alpha.example', 'member', 'x'::bytea,
                           now() + interval '1 day') RETURNING id""",
                a.tenant_id,
            ),
        }
    finally:
        await conn.close()
    return a, ids


async def _snapshot(database_url: str, tenant_id: UUID) -> list[object]:
    conn = await asyncpg.connect(database_url)
    try:
        tables = ("bots", "api_keys", "conversations", "messages", "documents", "users",
                  "invitations", "call_recordings")  # fmt: skip
        return [
            [
                dict(r)
                for r in await conn.fetch(
                    f"SELECT * FROM {t} WHERE tenant_id = $1 ORDER BY id", tenant_id
                )
            ]  # fmt: skip
            for t in tables
        ]
    finally:
        await conn.close()


def _concrete(path: str, ids: dict[str, UUID]) -> str:
    for name in re.findall(r"{(\w+):uuid}", path):
        path = path.replace(f"{{{name}:uuid}}", str(ids[name]))
    return path


async def test_another_tenants_ids_are_404_on_every_console_route(
    settings: Settings, database_url: str, console: Console
) -> None:
    a, ids = await _a_with_everything(database_url)
    before = await _snapshot(database_url, a.tenant_id)
    routes = [(m, p) for m, p in console_routes(settings) if "{" in p]
    assert len(routes) >= 12, routes
    failures = []
    for method, path in routes:
        url = _concrete(path, ids)
        if method == "GET":
            response = await console.get(url)
        else:
            await console.get("/console/bots")  # a fresh token of B's own session
            response = await console.post(url)
        leaked = [str(v) for v in ids.values() if str(v) in response.text.replace(url, "")]
        if response.status_code != 404 or leaked:
            failures.append(f"{method} {path}: {response.status_code} {leaked}")
    # Ids carried in query strings filter nothing of A's and show nothing of it.
    for url in (
        f"/console/conversations?bot_id={a.bot_id}",
        f"/console/knowledge?bot_id={a.bot_id}",
        f"/console/keys?bot_id={a.bot_id}",
    ):
        response = await console.get(url)
        if "secret plans?" in response.text or "A private doc" in response.text:
            failures.append(f"GET {url} shows tenant A's data")
    assert failures == []
    assert await _snapshot(database_url, a.tenant_id) == before, "tenant A's rows changed"


async def test_every_unsafe_console_route_refuses_a_missing_or_foreign_csrf_token(
    settings: Settings, database_url: str, console: Console, console_url: str
) -> None:
    own_bot = await _own_bot(console)
    ids = {name: own_bot for name in ("bot_id", "conversation_id", "document_id", "key_id",
                                        "user_id", "invitation_id")}  # fmt: skip
    routes = [(m, p) for m, p in console_routes(settings) if m in UNSAFE]
    assert len(routes) >= 15, routes
    async with httpx.AsyncClient(base_url=console_url) as other_browser:
        other = await sign_up(other_browser, "Mallory")
    failures = []
    for method, path in routes:
        url = _concrete(path, ids)
        for token in ("", other.csrf, "0" * 64):
            response = await console.http.request(
                method, url, data={"csrf_token": token, "name": "forged", "question": "q"}
            )
            if response.status_code != 403 or "security token" not in response.text:
                failures.append(f"{method} {path} token={token[:6]!r}: {response.status_code}")
        # A form posted from another site is refused before its token is even read.
        response = await console.http.request(
            method,
            url,
            data={"csrf_token": console.csrf},
            headers={"Origin": "https://evil.example"},
        )
        if response.status_code != 403:
            failures.append(f"{method} {path} cross-site: {response.status_code}")
    assert failures == []
    bots = await console.get("/console/bots")
    assert "forged" not in bots.text
    assert (await console.get(f"/console/bots/{own_bot}")).status_code == 200


async def _own_bot(console: Console) -> UUID:
    await console.get("/console/bots/new")
    made = await console.post("/console/bots/new", {"name": "Mine"})
    assert made.status_code == 303
    return UUID(made.headers["location"].rsplit("/", 1)[1])


async def test_api_keys_open_no_console_page_or_recording(
    settings: Settings, database_url: str, console_url: str
) -> None:
    a, ids = await _a_with_everything(database_url)
    credentials = [
        {"X-Parley-Key": a.publishable_key, "Origin": a.origin},
        {"Authorization": f"Bearer {a.publishable_key}", "Origin": a.origin},
        {"Authorization": f"Bearer {a.secret_key}"},
        {"Authorization": f"Bearer {a.access_token}"},  # even a user's API token: cookie only
    ]
    failures = []
    async with httpx.AsyncClient(base_url=console_url) as http:
        for method, path in console_routes(settings):
            if (method, path) in PUBLIC or method != "GET":
                continue
            url = _concrete(path, ids)
            for headers in credentials:
                response = await http.get(url, headers=headers, params={"key": a.publishable_key})
                signed_out = response.status_code in (303, 401) and (
                    response.status_code == 401
                    or response.headers["location"].startswith("/console/sign-in")
                )
                if not signed_out or "secret plans?" in response.text:
                    failures.append(f"GET {path} with {list(headers)}: {response.status_code}")
    assert failures == []
