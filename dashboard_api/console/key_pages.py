"""API keys: create (a secret key is shown once, on the page that answers the form), list
(prefixes only), revoke; and the embed snippet of each bot, with a copy button."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from dashboard_api import bots as bot_service
from dashboard_api.console.forms import Form
from dashboard_api.console.web import ConsoleUser, back_to, is_htmx, page
from dashboard_api.guards import require_scope
from dashboard_api.key_management import create_publishable_key, create_secret_key, revoke_key
from dashboard_api.repositories import api_keys, bots
from dashboard_api.services import DashboardServices
from voice_server.db import Database
from voice_server.errors import InvalidInput, ParleyError

LISTED = 500


async def _context(
    database: Database,
    user: ConsoleUser,
    bot_id: UUID | None,
    base_url: str,
) -> dict[str, Any]:
    async with database.pool.acquire() as conn:
        keys = await api_keys.list_page(conn, user.tenant_id, limit=LISTED)
        bot_rows = await bots.list_page(conn, user.tenant_id, limit=LISTED)
        snippet = snippet_error = None
        chosen = next((b for b in bot_rows if b.id == bot_id), None)
        if chosen is not None:
            try:
                snippet, _ = await bot_service.embed_snippet(
                    conn, user.tenant_id, chosen.id, base_url=base_url, created_by=user.user_id
                )
            except ParleyError as exc:
                snippet_error = exc.detail
    names = {b.id: b.name for b in bot_rows}
    return {
        "keys": keys[:LISTED],
        "bots": bot_rows,
        "bot_names": names,
        "chosen": chosen,
        "snippet": snippet,
        "snippet_error": snippet_error,
    }


def _base_url(request: Request[Any, Any, Any], services: DashboardServices) -> str:
    return services.public_url or str(request.base_url)


class KeyPages(Controller):
    path = "/keys"

    @get("/")
    async def index(
        self,
        request: Request[Any, Any, Any],
        console_user: NamedDependency[ConsoleUser],
        database: NamedDependency[Database],
        dashboard_services: NamedDependency[DashboardServices],
        bot_id: FromQuery[UUID | None] = None,
    ) -> Template:
        require_scope(console_user.principal, "keys:write")
        context = await _context(
            database, console_user, bot_id, _base_url(request, dashboard_services)
        )
        return page(request, "keys.html", user=console_user, created=None, error=None, **context)

    @post("/")
    async def create(
        self,
        request: Request[Any, Any, Any],
        console_user: NamedDependency[ConsoleUser],
        database: NamedDependency[Database],
        dashboard_services: NamedDependency[DashboardServices],
    ) -> Template:
        require_scope(console_user.principal, "keys:write")
        form = await Form.read(request)
        kind = form.text("kind", "secret", max_length=20)
        name = form.text("name", max_length=200).strip()
        created = error = None
        bot_id = form.uuid("bot_id")
        try:
            async with database.pool.acquire() as conn:
                if kind == "secret":
                    made = await create_secret_key(
                        conn, console_user.tenant_id, name=name, created_by=console_user.user_id
                    )
                elif kind == "publishable":
                    if bot_id is None:
                        raise InvalidInput("choose the bot this widget key is for", field="bot_id")
                    origins = form.lines("origins") or None
                    made = await create_publishable_key(
                        conn,
                        console_user.tenant_id,
                        bot_id=bot_id,
                        origins=origins,
                        name=name,
                        created_by=console_user.user_id,
                    )
                else:
                    raise InvalidInput("kind is secret or publishable", field="kind")
            created = {"key": made.key, "kind": made.row.kind, "prefix": made.row.prefix}
        except ParleyError as exc:
            if exc.status == 404:
                raise
            error = exc.detail
        context = await _context(
            database, console_user, None, _base_url(request, dashboard_services)
        )
        return page(
            request,
            "keys.html",
            user=console_user,
            created=created,
            error=error,
            status_code=201 if created else 400,
            **context,
        )

    @post("/{key_id:uuid}/revoke")
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        key_id: FromPath[UUID],
        console_user: NamedDependency[ConsoleUser],
        database: NamedDependency[Database],
    ) -> Response[Any]:
        require_scope(console_user.principal, "keys:write")
        async with database.pool.acquire() as conn:
            await revoke_key(conn, console_user.tenant_id, key_id)
        return back_to("/console/keys", htmx=is_htmx(request))
