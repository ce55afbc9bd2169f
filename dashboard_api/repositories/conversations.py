"""Conversations, their messages and their voice turns, read for the dashboard."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from dashboard_api.pagination import Cursor
from voice_server.db.types import Connection


@dataclass(frozen=True)
class ConversationFilter:
    bot_id: UUID | None = None
    channel: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None


@dataclass(frozen=True)
class ConversationRow:
    id: UUID
    bot_id: UUID
    channel: str
    visitor_id: str | None
    title: str | None
    metadata: dict[str, Any]
    started_at: datetime
    ended_at: datetime | None
    message_count: int


@dataclass(frozen=True)
class MessageRow:
    id: UUID
    role: str
    content: str
    interrupted: bool
    citations: list[Any]
    feedback: int | None
    answered: bool | None
    created_at: datetime


@dataclass(frozen=True)
class TurnRow:
    ordinal: int
    user_message_id: UUID | None
    assistant_message_id: UUID | None
    stt_final_ms: float | None
    llm_first_token_ms: float | None
    first_clause_ms: float | None
    tts_first_byte_ms: float | None
    first_audio_ms: float | None
    total_ms: float | None
    interrupted: bool


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _conversation(row: asyncpg.Record) -> ConversationRow:
    values = dict(row)
    values["metadata"] = _json(values["metadata"])
    return ConversationRow(**values)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_SELECT = """SELECT c.id, c.bot_id, c.channel, c.visitor_id, c.title, c.metadata, c.started_at,
                    c.ended_at,
                    (SELECT count(*) FROM messages m
                      WHERE m.tenant_id = c.tenant_id AND m.conversation_id = c.id) AS message_count
             FROM conversations c"""


async def list_page(
    conn: Connection,
    tenant_id: UUID,
    *,
    limit: int,
    after: Cursor | None = None,
    where: ConversationFilter = ConversationFilter(),
) -> list[ConversationRow]:
    """Newest first, ``limit + 1`` rows (the extra one says whether a next page exists)."""
    rows = await conn.fetch(
        f"""{_SELECT}
            WHERE c.tenant_id = $1
              AND ($2::timestamptz IS NULL OR (c.started_at, c.id) < ($2, $3::uuid))
              AND ($4::uuid IS NULL OR c.bot_id = $4)
              AND ($5::text IS NULL OR c.channel = $5)
              AND ($6::timestamptz IS NULL OR c.started_at >= $6)
              AND ($7::timestamptz IS NULL OR c.started_at < $7)
              AND ($8::text IS NULL OR EXISTS (
                    SELECT 1 FROM messages m
                    WHERE m.tenant_id = c.tenant_id AND m.conversation_id = c.id
                      AND m.content ILIKE '%' || $8 || '%'))
            ORDER BY c.started_at DESC, c.id DESC
            LIMIT $9""",
        tenant_id,
        after.created_at if after else None,
        after.id if after else None,
        where.bot_id,
        where.channel,
        where.since,
        where.until,
        _escape_like(where.text) if where.text else None,
        limit + 1,
    )
    return [_conversation(r) for r in rows]


async def get(conn: Connection, tenant_id: UUID, conversation_id: UUID) -> ConversationRow | None:
    row = await conn.fetchrow(
        f"{_SELECT} WHERE c.tenant_id = $1 AND c.id = $2", tenant_id, conversation_id
    )
    return _conversation(row) if row else None


async def messages(
    conn: Connection, tenant_id: UUID, conversation_ids: Sequence[UUID]
) -> dict[UUID, list[MessageRow]]:
    rows = await conn.fetch(
        """SELECT conversation_id, id, role, content, interrupted, citations, feedback, answered,
                  created_at
           FROM messages WHERE tenant_id = $1 AND conversation_id = ANY($2::uuid[])
           ORDER BY conversation_id, created_at, id""",
        tenant_id,
        list(conversation_ids),
    )
    found: dict[UUID, list[MessageRow]] = {c: [] for c in conversation_ids}
    for row in rows:
        values = dict(row)
        conversation_id = values.pop("conversation_id")
        values["citations"] = _json(values["citations"])
        found[conversation_id].append(MessageRow(**values))
    return found


async def turns(conn: Connection, tenant_id: UUID, conversation_id: UUID) -> list[TurnRow]:
    rows = await conn.fetch(
        """SELECT t.ordinal, t.user_message_id, t.assistant_message_id, t.stt_final_ms,
                  t.llm_first_token_ms, t.first_clause_ms, t.tts_first_byte_ms, t.first_audio_ms,
                  t.total_ms, t.interrupted
           FROM turns t JOIN voice_sessions v
             ON v.tenant_id = t.tenant_id AND v.id = t.voice_session_id
           WHERE t.tenant_id = $1 AND v.conversation_id = $2
           ORDER BY v.started_at, t.ordinal""",
        tenant_id,
        conversation_id,
    )
    return [TurnRow(**dict(r)) for r in rows]


async def delete(conn: Connection, tenant_id: UUID, conversation_id: UUID) -> bool:
    status = await conn.execute(
        "DELETE FROM conversations WHERE tenant_id = $1 AND id = $2", tenant_id, conversation_id
    )
    return status == "DELETE 1"


async def set_feedback(
    conn: Connection, tenant_id: UUID, message_id: UUID, rating: int, *, bot_id: UUID | None
) -> bool:
    """Rate an assistant message; with ``bot_id`` only messages of that bot qualify."""
    status = await conn.execute(
        """UPDATE messages m SET feedback = $3
           FROM conversations c
           WHERE m.tenant_id = $1 AND m.id = $2 AND m.role = 'assistant'
             AND c.tenant_id = m.tenant_id AND c.id = m.conversation_id
             AND ($4::uuid IS NULL OR c.bot_id = $4)""",
        tenant_id,
        message_id,
        rating,
        bot_id,
    )
    return status == "UPDATE 1"
