"""The console's own reads (tenant-scoped like every repository): conversations filtered by
whether they were answered, and the full waterfall of each voice turn."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from dashboard_api.repositories.analytics import unanswered_sql
from dashboard_api.repositories.conversations import ConversationFilter
from voice_server.db.types import Connection

# The stages of a voice turn's reply, in the order they happen, with their labels.
WATERFALL_STAGES = (
    ("end_of_turn_wait_ms", "End-of-turn wait"),
    ("stt_final_ms", "Speech to text"),
    ("llm_first_token_ms", "Model first token"),
    ("first_clause_ms", "First clause"),
    ("tts_first_byte_ms", "Speech first byte"),
    ("first_audio_ms", "First audio out"),
)


@dataclass(frozen=True)
class ConversationItem:
    id: UUID
    bot_id: UUID
    bot_name: str
    channel: str
    title: str | None
    started_at: datetime
    message_count: int
    unanswered: int


async def conversations(
    conn: Connection,
    tenant_id: UUID,
    where: ConversationFilter,
    *,
    answered: bool | None,
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> list[ConversationItem]:
    """Newest first; ``limit + 1`` rows so the caller knows whether there is a next page."""
    rows = await conn.fetch(
        f"""SELECT c.id, c.bot_id, b.name AS bot_name, c.channel, c.title, c.started_at,
                   (SELECT count(*) FROM messages m
                     WHERE m.tenant_id = c.tenant_id AND m.conversation_id = c.id)
                       AS message_count,
                   (SELECT count(*) FROM messages a
                     WHERE a.tenant_id = c.tenant_id AND a.conversation_id = c.id
                       AND a.role = 'assistant' AND {unanswered_sql("a")}) AS unanswered
            FROM conversations c JOIN bots b ON b.tenant_id = c.tenant_id AND b.id = c.bot_id
            WHERE c.tenant_id = $1
              AND ($2::timestamptz IS NULL OR (c.started_at, c.id) < ($2, $3::uuid))
              AND ($4::uuid IS NULL OR c.bot_id = $4)
              AND ($5::text IS NULL OR c.channel = $5)
              AND ($6::timestamptz IS NULL OR c.started_at >= $6)
              AND ($7::timestamptz IS NULL OR c.started_at < $7)
              AND ($8::boolean IS NULL OR $8 = NOT EXISTS (
                    SELECT 1 FROM messages a
                    WHERE a.tenant_id = c.tenant_id AND a.conversation_id = c.id
                      AND a.role = 'assistant' AND {unanswered_sql("a")}))
            ORDER BY c.started_at DESC, c.id DESC
            LIMIT $9""",
        tenant_id,
        before[0] if before else None,
        before[1] if before else None,
        where.bot_id,
        where.channel,
        where.since,
        where.until,
        answered,
        limit + 1,
    )
    return [ConversationItem(**dict(r)) for r in rows]


@dataclass(frozen=True)
class VoiceTurn:
    ordinal: int
    user_message_id: UUID | None
    assistant_message_id: UUID | None
    stages: list[tuple[str, float | None]]  # (label, ms after the end of speech)
    total_ms: float | None
    interrupted: bool


async def voice_turns(conn: Connection, tenant_id: UUID, conversation_id: UUID) -> list[VoiceTurn]:
    columns = ", ".join(f"t.{name}" for name, _ in WATERFALL_STAGES)
    rows = await conn.fetch(
        f"""SELECT t.ordinal, t.user_message_id, t.assistant_message_id, t.total_ms,
                   t.interrupted, {columns}
            FROM turns t JOIN voice_sessions v
              ON v.tenant_id = t.tenant_id AND v.id = t.voice_session_id
            WHERE t.tenant_id = $1 AND v.conversation_id = $2
            ORDER BY v.started_at, t.ordinal""",
        tenant_id,
        conversation_id,
    )
    return [
        VoiceTurn(
            ordinal=r["ordinal"],
            user_message_id=r["user_message_id"],
            assistant_message_id=r["assistant_message_id"],
            stages=[(label, r[name]) for name, label in WATERFALL_STAGES],
            total_ms=r["total_ms"],
            interrupted=r["interrupted"],
        )
        for r in rows
    ]
