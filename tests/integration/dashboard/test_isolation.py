"""Tenant isolation, generated from the route table: for every HTTP endpoint whose path takes an
id, tenant B (owner, so no scope stops it early) using tenant A's id gets 404 and none of A's
data, and A's rows are unchanged afterwards. A new endpoint is covered as soon as it exists; if
its id parameter is new, add a factory for it to ``OWNED_BY_A``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import asyncpg
import httpx
from litestar import Litestar
from litestar.routes import HTTPRoute

from tests.integration.dashboard import seed
from tests.support.server import serve_app
from tests.support.tenants import TenantKeys, create_tenant
from voice_server.app import create_app
from voice_server.settings import Settings

Factory = Callable[[asyncpg.Connection, TenantKeys], Awaitable[UUID]]


async def _bot(conn: asyncpg.Connection, a: TenantKeys) -> UUID:
    return a.bot_id


async def _key(conn: asyncpg.Connection, a: TenantKeys) -> UUID:
    key_id: UUID = await conn.fetchval(
        "SELECT id FROM api_keys WHERE tenant_id = $1 AND kind = 'secret'", a.tenant_id
    )
    return key_id


async def _conversation(conn: asyncpg.Connection, a: TenantKeys) -> UUID:
    seeded = await seed.conversation(conn, a.tenant_id, a.bot_id, [("secret plans?", "here")])
    return seeded.conversation_id


async def _message(conn: asyncpg.Connection, a: TenantKeys) -> UUID:
    seeded = await seed.conversation(conn, a.tenant_id, a.bot_id, [("q", "a")])
    return seeded.message_ids[1]


async def _document(conn: asyncpg.Connection, a: TenantKeys) -> UUID:
    document_id: UUID = await conn.fetchval(
        """INSERT INTO documents (tenant_id, source_kind, title, status)
           VALUES ($1, 'text', 'A private doc', 'ready') RETURNING id""",
        a.tenant_id,
    )
    return document_id


async def _user(conn: asyncpg.Connection, a: TenantKeys) -> UUID:
    return a.user_id


async def _drive_source(conn: asyncpg.Connection, a: TenantKeys) -> UUID:
    source_id: UUID = await conn.fetchval(
        """INSERT INTO drive_sources (tenant_id, folder_id, credentials)
           VALUES ($1, 'folder-of-alpha', '{}'::jsonb) RETURNING id""",
        a.tenant_id,
    )
    return source_id


async def _invitation(conn: asyncpg.Connection, a: TenantKeys) -> UUID:
    invitation_id: UUID = await conn.fetchval(
        """INSERT INTO invitations (tenant_id, email, role, token_hash, expires_at)
           VALUES ($1, 'guest@alpha.example', 'member', gen_random_uuid()::text::bytea,
                   now() + interval '1 day') RETURNING id""",
        a.tenant_id,
    )
    return invitation_id


OWNED_BY_A: dict[str, Factory] = {
    "bot_id": _bot,
    "key_id": _key,
    "conversation_id": _conversation,
    "message_id": _message,
    "document_id": _document,
    "user_id": _user,
    "member_id": _user,
    "invitation_id": _invitation,
    "source_id": _drive_source,  # rag's Drive folder sources
}

# A valid body for endpoints that take one, so that validation cannot answer before the lookup.
BODIES: dict[tuple[str, str], Any] = {
    ("PATCH", "/v1/bots/{bot_id:uuid}"): {"greeting": "pwned"},
    ("PATCH", "/v1/members/{user_id:uuid}"): {"role": "member"},
    ("POST", "/v1/bots/{bot_id:uuid}/preview"): {"question": "What is in your documents?"},
    ("POST", "/v1/bots/{bot_id:uuid}/chat"): {"message": "hello", "stream": False},
    ("POST", "/v1/documents/drive/{source_id:uuid}/sync"): None,  # the body is optional
}


# Routes a publishable key is the only credential for (the widget's own reads).
PUBLISHABLE_ONLY = {("GET", "/v1/bots/{bot_id:uuid}/public")}


def id_routes(app: Litestar) -> list[tuple[str, str, bool]]:
    """(method, path template, takes a body) of every HTTP endpoint with a uuid path id."""
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        if route.path.startswith("/console"):
            continue  # cookie sessions, not bearer tokens: tests/integration/console/test_security
        uuid_params = [p for p in route.path_parameters.values() if p.type is UUID]
        if not uuid_params:
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods:
                if method in ("OPTIONS", "HEAD"):
                    continue
                takes_body = "data" in handler.parsed_fn_signature.parameters
                found.append((method, route.path, takes_body))
    return sorted(found)


async def test_foreign_ids_answer_404_everywhere(settings: Settings, database_url: str) -> None:
    a = await create_tenant(database_url, name="Alpha")
    b = await create_tenant(database_url, name="Beta", origin="https://beta.example")
    app = create_app(settings)
    routes = id_routes(app)
    assert len(routes) >= 8, routes  # the matrix must not silently shrink to nothing

    conn = await asyncpg.connect(database_url)
    try:
        ids: dict[str, UUID] = {}
        for _, path, _ in routes:
            for name in path_params(path):
                if name not in OWNED_BY_A:
                    raise AssertionError(
                        f"{path}: add a factory for `{name}` to OWNED_BY_A in {__file__}"
                    )
                if name not in ids:
                    ids[name] = await OWNED_BY_A[name](conn, a)
        ids.setdefault("message_id", await _message(conn, a))
        before = await _snapshot(conn, a.tenant_id)
    finally:
        await conn.close()

    failures = []
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        for method, path, takes_body in routes:
            concrete = path
            for name in path_params(path):
                concrete = concrete.replace(f"{{{name}:uuid}}", str(ids[name]))
            body = BODIES.get((method, path))
            if takes_body and (method, path) not in BODIES:
                failures.append(f"{method} {path}: add a valid body to BODIES")
                continue
            # The widget's public config takes only a publishable key: B's own key asks for A's bot.
            headers = b.widget_headers if (method, path) in PUBLISHABLE_ONLY else b.user_headers
            response = await http.request(method, concrete, headers=headers, json=body)
            # The problem document echoes the requested path in `instance`; nothing else of A's.
            text = response.text.replace(f'"instance":"{concrete}"', "")
            leaked = [str(v) for v in ids.values() if str(v) in text]
            if response.status_code != 404 or leaked:
                failures.append(f"{method} {path}: {response.status_code} {response.text[:200]}")

        # Ids carried in bodies and query strings.
        cases = [
            ("POST", "/v1/feedback", {"message_id": str(ids["message_id"]), "rating": "down"}),
            ("POST", "/v1/keys", {"kind": "publishable", "bot_id": str(a.bot_id)}),
            ("GET", f"/v1/analytics?bot_id={a.bot_id}", None),
        ]
        for method, target, body in cases:
            response = await http.request(method, target, headers=b.user_headers, json=body)
            if response.status_code != 404:
                failures.append(f"{method} {target}: {response.status_code}")
        listing = await http.get(
            "/v1/conversations", headers=b.user_headers, params={"bot_id": str(a.bot_id)}
        )
        assert listing.json()["items"] == []
        export = await http.get("/v1/conversations/export", headers=b.user_headers)
        assert str(a.tenant_id) not in export.text
        assert str(ids["conversation_id"]) not in export.text

    assert failures == []
    conn = await asyncpg.connect(database_url)
    try:
        assert await _snapshot(conn, a.tenant_id) == before, "tenant A's rows changed"
    finally:
        await conn.close()


def path_params(path: str) -> list[str]:
    return [part[1:].split(":")[0] for part in path.split("/") if part.startswith("{")]


async def _snapshot(conn: asyncpg.Connection, tenant_id: UUID) -> list[Any]:
    rows = []
    tables = ("bots", "api_keys", "conversations", "messages", "documents", "users", "invitations")
    for table in tables:
        rows.append(
            [
                dict(r)
                for r in await conn.fetch(
                    f"SELECT * FROM {table} WHERE tenant_id = $1 ORDER BY id", tenant_id
                )
            ]
        )
    return rows
