"""The one place that writes conversations and messages, and reads a bot for a conversation.

Voice (``voice_server.voice.store``) and text chat (``rag.conversations``) both record turns
here, on the connection they hold (so each can add its own rows, turns or usage, in the same
transaction). Every statement is scoped by ``tenant_id`` (DESIGN principle 7) except the bot
lookup by id alone, which the voice socket needs while anonymous sessions exist.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from voice_server.brain import BotProfile
from voice_server.db.types import Connection

Role = Literal["user", "assistant"]


async def find_bot(conn: Connection, bot_id: UUID, tenant_id: UUID | None) -> BotProfile | None:
    row = await conn.fetchrow(
        """SELECT id, tenant_id, name, system_prompt, greeting, language, config
           FROM bots WHERE id = $1 AND ($2::uuid IS NULL OR tenant_id = $2)""",
        bot_id,
        tenant_id,
    )
    if row is None:
        return None
    config = row["config"]
    if isinstance(config, str):
        config = json.loads(config)
    return BotProfile(
        id=row["id"],
        tenant_id=row["tenant_id"],
        name=row["name"],
        system_prompt=row["system_prompt"],
        greeting=row["greeting"],
        language=row["language"],
        config=dict(config or {}),
    )


async def open_conversation(
    conn: Connection,
    tenant_id: UUID,
    bot_id: UUID,
    *,
    channel: Literal["text", "voice"],
    visitor_id: str | None = None,
    title: str | None = None,
) -> UUID:
    value = await conn.fetchval(
        """INSERT INTO conversations (tenant_id, bot_id, channel, visitor_id, title)
           VALUES ($1, $2, $3, $4, $5) RETURNING id""",
        tenant_id,
        bot_id,
        channel,
        visitor_id,
        title[:200] if title is not None else None,
    )
    return UUID(str(value))


async def add_message(
    conn: Connection,
    tenant_id: UUID,
    conversation_id: UUID,
    role: Role,
    content: str,
    *,
    citations: list[dict[str, Any]] | None = None,
    tokens_in: int | None = None,
    tokens_out: int | None = None,
    interrupted: bool = False,
    answered: bool | None = None,
) -> tuple[UUID, datetime]:
    """``answered`` is the brain's verdict on a finished reply (False when the knowledge base
    had nothing relevant); None for questions and interrupted replies."""
    row = await conn.fetchrow(
        """INSERT INTO messages (tenant_id, conversation_id, role, content, citations,
               tokens_in, tokens_out, interrupted, answered)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9) RETURNING id, created_at""",
        tenant_id,
        conversation_id,
        role,
        content,
        json.dumps(citations or []),
        tokens_in,
        tokens_out,
        interrupted,
        answered,
    )
    assert row is not None  # INSERT ... RETURNING always returns the row
    return row["id"], row["created_at"]
