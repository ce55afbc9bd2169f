"""Conversations as the chat and voice code would write them (their writers land elsewhere)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Seeded:
    conversation_id: UUID
    message_ids: list[UUID] = field(default_factory=list)


async def conversation(
    conn: asyncpg.Connection,
    tenant_id: UUID,
    bot_id: UUID,
    exchanges: list[tuple[str, str]],
    *,
    channel: str = "text",
    visitor: str | None = "visitor-1",
    started_at: datetime = T0,
    cited: bool = True,
    answered: bool | None = None,
    waterfall_ms: float | None = None,
    billed_s: int = 0,
) -> Seeded:
    """One conversation of (question, answer) exchanges; voice ones get a session and turns."""
    conversation_id: UUID = await conn.fetchval(
        """INSERT INTO conversations (tenant_id, bot_id, channel, visitor_id, started_at, ended_at)
           VALUES ($1, $2, $3, $4, $5::timestamptz, $5::timestamptz + interval '2 minutes')
           RETURNING id""",
        tenant_id,
        bot_id,
        channel,
        visitor,
        started_at,
    )
    seeded = Seeded(conversation_id)
    session_id = None
    if channel == "voice":
        session_id = await conn.fetchval(
            """INSERT INTO voice_sessions (tenant_id, bot_id, conversation_id, transport,
                                           started_at, ended_at)
               VALUES ($1, $2, $3, 'websocket', $4::timestamptz,
                       $4::timestamptz + interval '90 seconds')
               RETURNING id""",
            tenant_id,
            bot_id,
            conversation_id,
            started_at,
        )
    citations = json.dumps([{"title": "FAQ"}] if cited else [])
    for i, (question, answer) in enumerate(exchanges):
        at = started_at + timedelta(seconds=10 * i)
        user_id = await conn.fetchval(
            """INSERT INTO messages (tenant_id, conversation_id, role, content, created_at)
               VALUES ($1, $2, 'user', $3, $4) RETURNING id""",
            tenant_id,
            conversation_id,
            question,
            at,
        )
        reply_id = await conn.fetchval(
            """INSERT INTO messages (tenant_id, conversation_id, role, content, citations,
                                     answered, created_at)
               VALUES ($1, $2, 'assistant', $3, $4::jsonb, $5, $6) RETURNING id""",
            tenant_id,
            conversation_id,
            answer,
            citations,
            answered,
            at + timedelta(seconds=1),
        )
        seeded.message_ids += [user_id, reply_id]
        if session_id is not None:
            base = waterfall_ms if waterfall_ms is not None else 100.0 * (i + 1)
            await conn.execute(
                """INSERT INTO turns (tenant_id, voice_session_id, ordinal, user_message_id,
                       assistant_message_id, stt_final_ms, llm_first_token_ms, first_clause_ms,
                       tts_first_byte_ms, first_audio_ms, total_ms, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6::float8, $6::float8 * 2, $6::float8 * 3,
                           $6::float8 * 4, $6::float8 * 5, $6::float8 * 6, $7)""",
                tenant_id,
                session_id,
                i,
                user_id,
                reply_id,
                base,
                at,
            )
            if billed_s:  # what the voice store records in billing's ledger for the turn
                await conn.execute(
                    """INSERT INTO usage_events (tenant_id, kind, quantity, idempotency_key,
                                                 occurred_at)
                       VALUES ($1, 'voice_seconds', $2, $3, $4)""",
                    tenant_id,
                    billed_s,
                    f"voice:{session_id}:{i}",
                    at,
                )
    return seeded
