"""Conversations: a filtered list (bot, channel, dates, answered or not), and one
conversation's transcript with its citations, each voice turn's latency waterfall, and the
call recording when there is one."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from dashboard_api.console import queries
from dashboard_api.console.waterfall import waterfall
from dashboard_api.console.web import ConsoleUser, back_to, is_htmx, page
from dashboard_api.conversations import make_filter
from dashboard_api.guards import require_scope
from dashboard_api.repositories import bots, conversations
from voice_server.db import Database
from voice_server.errors import InvalidInput, NotFound
from voice_server.runtime import runtime_of
from voice_server.voice.services import RECORDINGS

PAGE_SIZE = 50


def _day(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value[:10]), time(), tzinfo=UTC)
    except ValueError:
        raise InvalidInput(f"{name} must be a date like 2026-01-31", field=name) from None


def _before(value: str | None) -> tuple[datetime, UUID] | None:
    if not value:
        return None
    stamp, _, ident = value.partition("_")
    try:
        return datetime.fromisoformat(stamp), UUID(ident)
    except ValueError:
        raise InvalidInput("the page link is not valid", field="before") from None


class ConversationPages(Controller):
    path = "/conversations"

    @get("/")
    async def index(
        self,
        request: Request[Any, Any, Any],
        console_user: NamedDependency[ConsoleUser],
        database: NamedDependency[Database],
        bot_id: FromQuery[UUID | None] = None,
        channel: FromQuery[str | None] = None,
        since: FromQuery[str | None] = None,
        until: FromQuery[str | None] = None,
        answered: FromQuery[str | None] = None,
        before: FromQuery[str | None] = None,
    ) -> Template:
        require_scope(console_user.principal, "conversations:read")
        if channel not in (None, "", "voice", "text"):
            raise InvalidInput("channel is voice or text", field="channel")
        if answered not in (None, "", "yes", "no"):
            raise InvalidInput("answered is yes or no", field="answered")
        until_day = _day(until, "until")
        where = make_filter(
            bot_id=bot_id,
            channel=channel or None,
            since=_day(since, "since"),
            until=until_day + timedelta(days=1) if until_day else None,  # the whole day
            text=None,
        )
        async with database.pool.acquire() as conn:
            items = await queries.conversations(
                conn,
                console_user.tenant_id,
                where,
                answered=None if not answered else answered == "yes",
                before=_before(before),
                limit=PAGE_SIZE,
            )
            bot_rows = await bots.list_page(conn, console_user.tenant_id, limit=500)
        next_before = None
        if len(items) > PAGE_SIZE:
            items = items[:PAGE_SIZE]
            last = items[-1]
            next_before = f"{last.started_at.isoformat()}_{last.id}"
        filters = {
            "bot_id": str(bot_id) if bot_id else "",
            "channel": channel or "",
            "since": since or "",
            "until": until or "",
            "answered": answered or "",
        }
        return page(
            request,
            "conversations/index.html",
            user=console_user,
            items=items,
            bots=bot_rows,
            f=filters,
            next_before=next_before,
        )

    @get("/{conversation_id:uuid}")
    async def detail(
        self,
        request: Request[Any, Any, Any],
        conversation_id: FromPath[UUID],
        console_user: NamedDependency[ConsoleUser],
        database: NamedDependency[Database],
    ) -> Template:
        require_scope(console_user.principal, "conversations:read")
        tenant_id = console_user.tenant_id
        async with database.pool.acquire() as conn:
            row = await conversations.get(conn, tenant_id, conversation_id)
            if row is None:
                raise NotFound("no such conversation")
            messages = (await conversations.messages(conn, tenant_id, [row.id]))[row.id]
            turns = await queries.voice_turns(conn, tenant_id, row.id)
            bot = await bots.get(conn, tenant_id, row.bot_id)
            recording = await recording_of(conn, tenant_id, row.id)
        charts = {}
        for turn in turns:
            target = turn.assistant_message_id or turn.user_message_id
            if target is not None:
                charts[target] = (turn, waterfall(turn.stages))
        return page(
            request,
            "conversations/detail.html",
            user=console_user,
            conversation=row,
            bot_name=bot.name if bot else "deleted bot",
            messages=messages,
            charts=charts,
            recording=recording,
        )

    @post("/{conversation_id:uuid}/delete")
    async def delete(
        self,
        request: Request[Any, Any, Any],
        conversation_id: FromPath[UUID],
        console_user: NamedDependency[ConsoleUser],
        database: NamedDependency[Database],
    ) -> Response[Any]:
        require_scope(console_user.principal, "conversations:write")
        async with database.pool.acquire() as conn:
            keys = await conn.fetch(
                "SELECT storage_key FROM call_recordings WHERE tenant_id = $1"
                " AND conversation_id = $2",
                console_user.tenant_id,
                conversation_id,
            )
            if not await conversations.delete(conn, console_user.tenant_id, conversation_id):
                raise NotFound("no such conversation")
        store = runtime_of(request.app).find(RECORDINGS)
        for row in keys:  # the rows went with the conversation; the files go now
            if store is not None:
                await store.delete(row["storage_key"])
        return back_to("/console/conversations", htmx=is_htmx(request))


async def recording_of(conn: Any, tenant_id: UUID, conversation_id: UUID) -> dict[str, Any] | None:
    """The conversation's call recording, if the bot recorded it (see recording_pages)."""
    from dashboard_api.console.recording_pages import find_recording

    return await find_recording(conn, tenant_id, conversation_id)
