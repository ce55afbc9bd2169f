"""Aggregates over a tenant's (or one bot's) conversations in a time range.

One definition per figure, shared by the JSON API, the console and billing:

- **voice minutes** are the billed voice seconds of the usage ledger (kind ``voice_seconds``,
  one row per stored turn: the caller's speech plus the reply audio actually heard, see
  voice_server.voice.allowance) divided by 60 — exactly what billing counts against the plan,
  never the wall-clock length of a session (silence between turns is not a voice minute);
- **unique visitors** are distinct visitors over the window: the widget's ``visitor_id`` when it
  sent one, otherwise the conversation itself (an anonymous visitor counts once per
  conversation), so the figure is never 0 when there were conversations;
- **unanswered** is the predicate :func:`unanswered_sql`: the brain said the knowledge base had
  nothing (``answered = false``), or, where no verdict was recorded, a complete reply with no
  citations. A reply cut off by a barge-in is not judged: it was interrupted, not unanswered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from voice_server.db.types import Connection

LATENCY_STAGES = (
    "end_of_turn_wait_ms",
    "stt_final_ms",
    "llm_first_token_ms",
    "first_clause_ms",
    "tts_first_byte_ms",
    "first_audio_ms",
    "total_ms",
)


def unanswered_sql(alias: str) -> str:
    """The SQL test that the assistant message ``alias`` left its question unanswered."""
    return (
        f"({alias}.answered = false OR ({alias}.answered IS NULL AND NOT {alias}.interrupted"
        f" AND {alias}.citations = '[]'::jsonb))"
    )


# The ledger's voice rows of one bot: voice turns are recorded with the key
# `voice:<session id>:<turn>` (voice_server.voice.allowance.usage_key).
VOICE_USAGE_OF_BOT = """EXISTS (
    SELECT 1 FROM voice_sessions vs
    WHERE vs.tenant_id = u.tenant_id AND vs.bot_id = $4
      AND u.idempotency_key LIKE 'voice:' || vs.id::text || ':%')"""


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
        f"""WITH c AS (
               SELECT count(*) AS conversations,
                      count(DISTINCT coalesce(visitor_id, 'conversation:' || id::text))
                          AS visitors
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
               SELECT coalesce(sum(u.quantity), 0) / 60.0 AS minutes
               FROM usage_events u
               WHERE u.tenant_id = $1 AND u.kind = 'voice_seconds'
                 AND u.occurred_at >= $2 AND u.occurred_at < $3
                 AND ($4::uuid IS NULL OR u.bot_id = $4 OR {VOICE_USAGE_OF_BOT}))
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
    """User questions whose reply left them unanswered (:func:`unanswered_sql`)."""
    rows = await conn.fetch(
        f"""SELECT min(q.content) AS question, count(*) AS n
           FROM messages a
           JOIN LATERAL (
               SELECT u.content FROM messages u
               WHERE u.tenant_id = a.tenant_id AND u.conversation_id = a.conversation_id
                 AND u.role = 'user' AND u.created_at <= a.created_at
               ORDER BY u.created_at DESC LIMIT 1) q ON true
           WHERE a.tenant_id = $1 AND a.created_at >= $2 AND a.created_at < $3
             AND a.role = 'assistant'
             AND {unanswered_sql("a")}
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


@dataclass(frozen=True)
class Day:
    day: datetime
    conversations: int
    messages: int
    voice_minutes: float


async def per_day(conn: Connection, w: Window) -> list[Day]:
    """Conversations, messages and voice minutes per UTC day of the window (days with none
    included), by the same definitions as :func:`totals`."""
    rows = await conn.fetch(
        f"""WITH days AS (
               SELECT generate_series(date_trunc('day', $2::timestamptz, 'UTC'),
                                      date_trunc('day', $3::timestamptz - interval '1 microsecond',
                                                 'UTC'),
                                      interval '1 day') AS day),
           c AS (
               SELECT date_trunc('day', started_at, 'UTC') AS day, count(*) AS n
               FROM conversations
               WHERE tenant_id = $1 AND started_at >= $2 AND started_at < $3
                 AND ($4::uuid IS NULL OR bot_id = $4)
               GROUP BY 1),
           m AS (
               SELECT date_trunc('day', m.created_at, 'UTC') AS day, count(*) AS n
               FROM messages m
               WHERE m.tenant_id = $1 AND m.created_at >= $2 AND m.created_at < $3
                 AND m.role IN ('user', 'assistant')
                 AND ($4::uuid IS NULL OR EXISTS (
                       SELECT 1 FROM conversations c
                       WHERE c.tenant_id = m.tenant_id AND c.id = m.conversation_id
                         AND c.bot_id = $4))
               GROUP BY 1),
           v AS (
               SELECT date_trunc('day', u.occurred_at, 'UTC') AS day, sum(u.quantity) AS seconds
               FROM usage_events u
               WHERE u.tenant_id = $1 AND u.kind = 'voice_seconds'
                 AND u.occurred_at >= $2 AND u.occurred_at < $3
                 AND ($4::uuid IS NULL OR u.bot_id = $4 OR {VOICE_USAGE_OF_BOT})
               GROUP BY 1)
           SELECT days.day, coalesce(c.n, 0) AS conversations, coalesce(m.n, 0) AS messages,
                  coalesce(v.seconds, 0) / 60.0 AS minutes
           FROM days LEFT JOIN c USING (day) LEFT JOIN m USING (day) LEFT JOIN v USING (day)
           ORDER BY days.day""",
        w.tenant_id,
        w.since,
        w.until,
        w.bot_id,
    )
    return [
        Day(r["day"], r["conversations"], r["messages"], round(float(r["minutes"]), 2))
        for r in rows
    ]
