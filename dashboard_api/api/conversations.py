"""Conversations: list and search, transcript, delete, tenant-wide JSON Lines export."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from litestar import Controller, delete, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, Parameter
from litestar.response import Stream

from dashboard_api import conversations as service
from dashboard_api.guards import require_scope
from dashboard_api.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor
from dashboard_api.repositories import conversations
from voice_server.db import Database
from voice_server.errors import NotFound
from voice_server.principal import Principal

Channel = Literal["text", "voice"]
Text = Annotated[str | None, Parameter(max_length=200, description="a message contains this")]


class ConversationsController(Controller):
    path = "/v1/conversations"
    tags = ["conversations"]

    @get("/", summary="List and search conversations, newest first")
    async def list_conversations(
        self,
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
        limit: Annotated[int, Parameter(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: FromQuery[str | None] = None,
        bot_id: FromQuery[UUID | None] = None,
        channel: FromQuery[Channel | None] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        q: Text = None,
    ) -> service.ConversationPage:
        require_scope(principal, "conversations:read")
        where = service.make_filter(
            bot_id=bot_id, channel=channel, since=since, until=until, text=q
        )
        async with database.pool.acquire() as conn:
            rows = await conversations.list_page(
                conn, principal.tenant_id, limit=limit, after=decode_cursor(cursor), where=where
            )
        return service.ConversationPage(
            items=[service.conversation_out(r) for r in rows[:limit]],
            next_cursor=service.next_cursor(rows, limit),
        )

    @get(
        "/export",
        summary="Every conversation with its messages, as JSON Lines",
        media_type="application/x-ndjson",
    )
    async def export(
        self,
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
        bot_id: FromQuery[UUID | None] = None,
        channel: FromQuery[Channel | None] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
    ) -> Stream:
        require_scope(principal, "conversations:read")
        where = service.make_filter(
            bot_id=bot_id, channel=channel, since=since, until=until, text=None
        )
        return Stream(
            service.export_lines(database, principal.tenant_id, where),
            media_type="application/x-ndjson",
            headers={"Content-Disposition": 'attachment; filename="conversations.jsonl"'},
        )

    @get("/{conversation_id:uuid}", summary="A transcript with each turn's latency waterfall")
    async def transcript(
        self,
        conversation_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
    ) -> service.TranscriptOut:
        require_scope(principal, "conversations:read")
        async with database.pool.acquire() as conn:
            return await service.transcript(conn, principal.tenant_id, conversation_id)

    @delete("/{conversation_id:uuid}", status_code=204, summary="Delete a conversation")
    async def delete_conversation(
        self,
        conversation_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
    ) -> None:
        require_scope(principal, "conversations:write")
        async with database.pool.acquire() as conn:
            if not await conversations.delete(conn, principal.tenant_id, conversation_id):
                raise NotFound("no such conversation")
