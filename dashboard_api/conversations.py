"""Conversation browsing: pages, transcripts with latency waterfalls, deletion, JSONL export."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec

from dashboard_api.pagination import Cursor, encode_cursor
from dashboard_api.repositories import conversations
from dashboard_api.repositories.conversations import (
    ConversationFilter,
    ConversationRow,
    MessageRow,
    TurnRow,
)
from voice_server.db import Database
from voice_server.db.types import Connection
from voice_server.errors import InvalidInput, NotFound

EXPORT_BATCH = 200


class Waterfall(msgspec.Struct):
    """Milliseconds from the end of the user's speech to each stage of the reply."""

    stt_final_ms: float | None
    llm_first_token_ms: float | None
    first_clause_ms: float | None
    tts_first_byte_ms: float | None
    first_audio_ms: float | None
    total_ms: float | None
    interrupted: bool


class MessageOut(msgspec.Struct):
    id: UUID
    role: str
    content: str
    interrupted: bool
    citations: list[Any]
    feedback: int | None
    created_at: datetime
    latency: Waterfall | None = None


class ConversationOut(msgspec.Struct):
    id: UUID
    bot_id: UUID
    channel: str
    visitor_id: str | None
    title: str | None
    started_at: datetime
    ended_at: datetime | None
    message_count: int


class TranscriptOut(ConversationOut):
    messages: list[MessageOut] = msgspec.field(default_factory=list)


class ConversationPage(msgspec.Struct):
    items: list[ConversationOut]
    next_cursor: str | None


def utc(value: datetime | None) -> datetime | None:
    """A query's date in UTC (naive dates are taken as UTC); one that UTC cannot represent
    (0001-01-01 with a positive offset) is the client's mistake, not an overflow."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(f"{value.isoformat()} is out of range") from None


def make_filter(
    *,
    bot_id: UUID | None,
    channel: str | None,
    since: datetime | None,
    until: datetime | None,
    text: str | None,
) -> ConversationFilter:
    since, until = utc(since), utc(until)
    if since and until and since >= until:
        raise InvalidInput("`since` must be before `until`", field="since")
    return ConversationFilter(
        bot_id=bot_id, channel=channel, since=since, until=until, text=text or None
    )


def conversation_out(row: ConversationRow) -> ConversationOut:
    return ConversationOut(
        id=row.id,
        bot_id=row.bot_id,
        channel=row.channel,
        visitor_id=row.visitor_id,
        title=row.title,
        started_at=row.started_at,
        ended_at=row.ended_at,
        message_count=row.message_count,
    )


def _waterfall(turn: TurnRow) -> Waterfall:
    return Waterfall(
        stt_final_ms=turn.stt_final_ms,
        llm_first_token_ms=turn.llm_first_token_ms,
        first_clause_ms=turn.first_clause_ms,
        tts_first_byte_ms=turn.tts_first_byte_ms,
        first_audio_ms=turn.first_audio_ms,
        total_ms=turn.total_ms,
        interrupted=turn.interrupted,
    )


def transcript_out(
    row: ConversationRow, messages: list[MessageRow], turns: list[TurnRow]
) -> TranscriptOut:
    # A turn's waterfall belongs to the reply it produced (or the question, if none was stored).
    by_message: dict[UUID, Waterfall] = {}
    for turn in turns:
        target = turn.assistant_message_id or turn.user_message_id
        if target is not None:
            by_message[target] = _waterfall(turn)
    base = conversation_out(row)
    return TranscriptOut(
        **msgspec.structs.asdict(base),
        messages=[
            MessageOut(
                id=m.id,
                role=m.role,
                content=m.content,
                interrupted=m.interrupted,
                citations=m.citations,
                feedback=m.feedback,
                created_at=m.created_at,
                latency=by_message.get(m.id),
            )
            for m in messages
        ],
    )


async def transcript(conn: Connection, tenant_id: UUID, conversation_id: UUID) -> TranscriptOut:
    row = await conversations.get(conn, tenant_id, conversation_id)
    if row is None:
        raise NotFound("no such conversation")
    found = await conversations.messages(conn, tenant_id, [row.id])
    turns = await conversations.turns(conn, tenant_id, row.id)
    return transcript_out(row, found[row.id], turns)


async def export_lines(
    database: Database, tenant_id: UUID, where: ConversationFilter
) -> AsyncIterator[bytes]:
    """Every matching conversation with its messages, one JSON object per line, in batches
    (the whole export never sits in memory)."""
    encoder = msgspec.json.Encoder()
    after = None
    while True:
        async with database.pool.acquire() as conn:
            rows = await conversations.list_page(
                conn, tenant_id, limit=EXPORT_BATCH, after=after, where=where
            )
            batch = rows[:EXPORT_BATCH]
            found = await conversations.messages(conn, tenant_id, [r.id for r in batch])
        for row in batch:
            yield encoder.encode(transcript_out(row, found[row.id], [])) + b"\n"
        if len(rows) <= EXPORT_BATCH:
            return
        after = Cursor(created_at=batch[-1].started_at, id=batch[-1].id)


def next_cursor(rows: list[ConversationRow], limit: int) -> str | None:
    if len(rows) <= limit:
        return None
    return encode_cursor(rows[limit - 1].started_at, rows[limit - 1].id)
