"""Bots: CRUD, duplicate, embed code."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter, SkipValidation

from dashboard_api import bots as bot_service
from dashboard_api.bot_schema import BotCreate, BotOut, BotPage, BotUpdate
from dashboard_api.guards import require_bot_access, require_scope
from dashboard_api.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    check_limit,
    decode_cursor,
    encode_cursor,
)
from dashboard_api.preview import PreviewOut, ask
from dashboard_api.repositories import bots
from dashboard_api.services import DashboardServices
from voice_server.db import Database
from voice_server.errors import InvalidInput
from voice_server.principal import Principal
from voice_server.turns import TurnService

Limit = Annotated[int, Parameter(ge=1, le=MAX_LIMIT, description="page size")]


class PreviewTurn(msgspec.Struct, forbid_unknown_fields=True):
    role: Literal["user", "assistant"]
    content: Annotated[str, msgspec.Meta(max_length=8000)]


class PreviewBody(msgspec.Struct, forbid_unknown_fields=True):
    # `message`, as in POST /v1/bots/{id}/chat; `question` is its deprecated alias (one release).
    message: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)] | None = None
    question: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)] | None = None
    history: Annotated[list[PreviewTurn], msgspec.Meta(max_length=50)] = msgspec.field(
        default_factory=list
    )


class EmbedOut(msgspec.Struct):
    bot_id: UUID
    publishable_key: str
    snippet: str


class BotsController(Controller):
    path = "/v1/bots"
    tags = ["bots"]

    @get("/", summary="List bots, newest first")
    async def list_bots(
        self,
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
        limit: Limit = DEFAULT_LIMIT,
        cursor: FromQuery[str | None] = None,
        q: Annotated[str | None, Parameter(max_length=200, description="name contains")] = None,
    ) -> BotPage:
        require_scope(principal, "bots:read")
        after = decode_cursor(cursor)
        async with database.pool.acquire() as conn:
            rows = await bots.list_page(
                conn, principal.tenant_id, limit=check_limit(limit), after=after, name_contains=q
            )
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id)
        return BotPage(items=[bot_service.bot_out(r) for r in rows], next_cursor=next_cursor)

    @post("/", status_code=201, summary="Create a bot")
    async def create_bot(
        self,
        data: JSONBody[BotCreate],
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
    ) -> BotOut:
        require_scope(principal, "bots:write")
        async with database.pool.acquire() as conn:
            row = await bot_service.create_bot(conn, principal.tenant_id, data)
        return bot_service.bot_out(row)

    @get("/{bot_id:uuid}", summary="Read a bot")
    async def get_bot(
        self,
        bot_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
    ) -> BotOut:
        require_scope(principal, "bots:read")
        require_bot_access(principal, bot_id)
        async with database.pool.acquire() as conn:
            row = await bot_service.get_bot(conn, principal.tenant_id, bot_id)
        return bot_service.bot_out(row)

    @patch("/{bot_id:uuid}", summary="Change some of a bot's fields")
    async def update_bot(
        self,
        bot_id: FromPath[UUID],
        data: JSONBody[BotUpdate],
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
    ) -> BotOut:
        require_scope(principal, "bots:write")
        async with database.pool.acquire() as conn:
            row = await bot_service.update_bot(conn, principal.tenant_id, bot_id, data)
        return bot_service.bot_out(row)

    @delete(
        "/{bot_id:uuid}", status_code=204, summary="Delete a bot and its keys and conversations"
    )
    async def delete_bot(
        self,
        bot_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
    ) -> None:
        require_scope(principal, "bots:write")
        async with database.pool.acquire() as conn:
            await bot_service.delete_bot(conn, principal.tenant_id, bot_id)

    @post("/{bot_id:uuid}/duplicate", status_code=201, summary="Copy a bot's settings")
    async def duplicate_bot(
        self,
        bot_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
    ) -> BotOut:
        require_scope(principal, "bots:write")
        async with database.pool.acquire() as conn:
            row = await bot_service.duplicate_bot(conn, principal.tenant_id, bot_id)
        return bot_service.bot_out(row)

    @get("/{bot_id:uuid}/embed", summary="The <script> tag that puts this bot on a website")
    async def embed_code(
        self,
        bot_id: FromPath[UUID],
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
        dashboard_services: NamedDependency[DashboardServices],
        # The built widget (voice_server.web.bundle.WidgetBundle) or None when it is missing.
        widget_bundle: NamedDependency[Any] = None,
    ) -> EmbedOut:
        require_scope(principal, "bots:write")  # may create the bot's first publishable key
        base_url = dashboard_services.public_url or str(request.base_url)
        versioned = {}
        if widget_bundle is not None:
            versioned = {
                "script_path": widget_bundle.versioned_path,
                "integrity": widget_bundle.integrity,
            }
        async with database.pool.acquire() as conn:
            snippet, key = await bot_service.embed_snippet(
                conn,
                principal.tenant_id,
                bot_id,
                base_url=base_url,
                created_by=principal.user_id,
                **versioned,
            )
        return EmbedOut(bot_id=bot_id, publishable_key=key, snippet=snippet)

    @post(
        "/{bot_id:uuid}/preview",
        status_code=200,
        summary="Ask the bot a question: answer, citations and timings (nothing is stored)",
    )
    async def preview(
        self,
        bot_id: FromPath[UUID],
        data: JSONBody[PreviewBody],
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
        # A Protocol: nothing for the signature model to validate.
        turns: NamedDependency[SkipValidation[TurnService]],
    ) -> PreviewOut:
        require_scope(principal, "bots:read")
        require_bot_access(principal, bot_id)
        async with database.pool.acquire() as conn:
            bot = await bot_service.get_bot(conn, principal.tenant_id, bot_id)
        text = data.message if data.message is not None else data.question
        if text is None:
            raise InvalidInput("`message` is required", field="message")
        history = [(turn.role, turn.content) for turn in data.history]
        return await ask(turns, bot, text, history)
