"""Aggregates over a tenant's (or one bot's) conversations in a time range."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from voice_server.db.types import Connection

LATENCY_STAGES = (
    "stt_final_ms",
    "llm_first_token_ms",
    "first_clause_ms",
    "tts_first_byte_ms",
    "first_audio_ms",
    "total_ms",
)


@dataclass(frozen=True)
class Window:
    tenant_id: UUID
    since: datetime
    until: datetime
    bot_id: UUID | None = None


@dataclass(frozen=True)
class Totals:
    conversations: int
    unique_visitors: int
    messages: int
    user_messages: int
    feedback_up: int
    feedback_down: int
    voice_minutes: float


async def totals(conn: Connection, w: Window) -> Totals:
    row = await conn.fetchrow(
        """WITH c AS (
               SELECT count(*) AS conversations, count(DISTINCT visitor_id) AS visitors
               FROM conversations
               WHERE tenant_id = $1 AND started_at >= $2 AND started_at < $3
                 AND ($4::uuid IS NULL OR bot_id = $4)),
           m AS (
               SELECT count(*) AS messages,
                      count(*) FILTER (WHERE m.role = 'user') AS user_messages,
                      count(*) FILTER (WHERE m.feedback = 1) AS up,
                      count(*) FILTER (WHERE m.feedback = -1) AS down
               FROM messages m
               WHERE m.tenant_id = $1 AND m.created_at >= $2 AND m.created_at < $3
                 AND m.role IN ('user', 'assistant')
                 AND ($4::uuid IS NULL OR EXISTS (
                       SELECT 1 FROM conversations c
                       WHERE c.tenant_id = m.tenant_id AND c.id = m.conversation_id
                         AND c.bot_id = $4))),
           v AS (
               SELECT coalesce(sum(extract(epoch FROM ended_at - started_at)), 0) / 60.0 AS minutes
               FROM voice_sessions
               WHERE tenant_id = $1 AND started_at >= $2 AND started_at < $3
                 AND ended_at IS NOT NULL AND ($4::uuid IS NULL OR bot_id = $4))
           SELECT * FROM c, m, v""",
        w.tenant_id,
        w.since,
        w.until,
        w.bot_id,
    )
    assert row is not None
    return Totals(
        conversations=row["conversations"],
        unique_visitors=row["visitors"],
        messages=row["messages"],
        user_messages=row["user_messages"],
        feedback_up=row["up"],
        feedback_down=row["down"],
        voice_minutes=round(float(row["minutes"]), 2),
    )


async def latency_percentiles(
    conn: Connection, w: Window
) -> dict[str, tuple[float | None, float | None, int]]:
    """(p50, p95, samples) of each latency stage of the voice turns in the window."""
    parts = ", ".join(
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY t.{s}) AS {s}_p50, "
        f"percentile_cont(0.95) WITHIN GROUP (ORDER BY t.{s}) AS {s}_p95, "
        f"count(t.{s}) AS {s}_n"
        for s in LATENCY_STAGES
    )
    row = await conn.fetchrow(
        f"""SELECT {parts}
            FROM turns t
            WHERE t.tenant_id = $1 AND t.created_at >= $2 AND t.created_at < $3
              AND ($4::uuid IS NULL OR EXISTS (
                    SELECT 1 FROM voice_sessions v
                    WHERE v.tenant_id = t.tenant_id AND v.id = t.voice_session_id
                      AND v.bot_id = $4))""",
        w.tenant_id,
        w.since,
        w.until,
        w.bot_id,
    )
    assert row is not None
    return {s: (row[f"{s}_p50"], row[f"{s}_p95"], row[f"{s}_n"]) for s in LATENCY_STAGES}


async def top_questions(conn: Connection, w: Window, *, limit: int = 10) -> list[tuple[str, int]]:
    rows = await conn.fetch(
        """SELECT min(m.content) AS question, count(*) AS n
           FROM messages m
           WHERE m.tenant_id = $1 AND m.created_at >= $2 AND m.created_at < $3
             AND m.role = 'user'
             AND ($4::uuid IS NULL OR EXISTS (
                   SELECT 1 FROM conversations c
                   WHERE c.tenant_id = m.tenant_id AND c.id = m.conversation_id AND c.bot_id = $4))
           GROUP BY lower(btrim(m.content, ' ?!.'))
           ORDER BY n DESC, question
           LIMIT $5""",
        w.tenant_id,
        w.since,
        w.until,
        w.bot_id,
        limit,
    )
    return [(r["question"], r["n"]) for r in rows]


async def unanswered_questions(
    conn: Connection, w: Window, *, limit: int = 10
) -> list[tuple[str, int]]:
    """User questions whose reply said the knowledge base had nothing (``answered = false``),
    or, where that flag was not recorded, a reply with no citations."""
    rows = await conn.fetch(
        """SELECT min(q.content) AS question, count(*) AS n
           FROM messages a
           JOIN LATERAL (
               SELECT u.content FROM messages u
               WHERE u.tenant_id = a.tenant_id AND u.conversation_id = a.conversation_id
                 AND u.role = 'user' AND u.created_at <= a.created_at
               ORDER BY u.created_at DESC LIMIT 1) q ON true
           WHERE a.tenant_id = $1 AND a.created_at >= $2 AND a.created_at < $3
             AND a.role = 'assistant'
             AND (a.answered = false OR (a.answered IS NULL AND a.citations = '[]'::jsonb))
             AND ($4::uuid IS NULL OR EXISTS (
                   SELECT 1 FROM conversations c
                   WHERE c.tenant_id = a.tenant_id AND c.id = a.conversation_id AND c.bot_id = $4))
           GROUP BY lower(btrim(q.content, ' ?!.'))
           ORDER BY n DESC, question
           LIMIT $5""",
        w.tenant_id,
        w.since,
        w.until,
        w.bot_id,
        limit,
    )
    return [(r["question"], r["n"]) for r in rows]
