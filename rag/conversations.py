"""Text chat's view of conversations: history, transcripts, listings. Bots are read and
conversations and messages written through :mod:`voice_server.conversations`, the one writer
voice uses too. Every statement filters by tenant."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from rag.chunker import estimate_tokens
from voice_server import conversations
from voice_server.brain import BotProfile, ChatMessage, Citation
from voice_server.runtime import UsageRecorder


def citation_json(citation: Citation) -> dict[str, Any]:
    return {
        "document_id": str(citation.document_id),
        "title": citation.title,
        "location": citation.location,
        "url": citation.url,
        "chunk_id": str(citation.chunk_id) if citation.chunk_id else None,
        "score": citation.score,
    }


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


class ConversationStore:
    def __init__(self, pool: asyncpg.Pool, usage: UsageRecorder | None = None) -> None:
        self.pool = pool
        # Billing's ledger (the runtime's USAGE_RECORDER, set by rag's lifespan); without
        # billing, questions are not counted.
        self.usage = usage

    async def bot(self, tenant_id: UUID, bot_id: UUID) -> BotProfile | None:
        async with self.pool.acquire() as conn:
            return await conversations.find_bot(conn, bot_id, tenant_id)

    async def create(
        self, tenant_id: UUID, bot_id: UUID, *, channel: str, visitor_id: str | None, title: str
    ) -> UUID:
        async with self.pool.acquire() as conn:
            return await conversations.open_conversation(
                conn,
                tenant_id,
                bot_id,
                channel="voice" if channel == "voice" else "text",
                visitor_id=visitor_id,
                title=title,
            )

    async def exists(self, tenant_id: UUID, bot_id: UUID, conversation_id: UUID) -> bool:
        found = await self.pool.fetchval(
            "SELECT true FROM conversations WHERE tenant_id = $1 AND bot_id = $2 AND id = $3",
            tenant_id,
            bot_id,
            conversation_id,
        )
        return bool(found)

    async def add_message(
        self,
        tenant_id: UUID,
        conversation_id: UUID,
        *,
        role: str,
        content: str,
        citations: Sequence[Citation] = (),
        tokens_in: int | None = None,
        tokens_out: int | None = None,
        interrupted: bool = False,
        answered: bool | None = None,
    ) -> tuple[UUID, datetime]:
        """``answered`` is the brain's verdict on a finished reply (``ReplyDone.answered``:
        False when the knowledge base had nothing relevant); None when there is none (questions,
        interrupted replies). Analytics list a reply as unanswered by it, not by its citations."""
        async with self.pool.acquire() as conn, conn.transaction():
            message_id, created_at = await conversations.add_message(
                conn,
                tenant_id,
                conversation_id,
                "user" if role == "user" else "assistant",
                content,
                citations=[citation_json(c) for c in citations],
                tokens_in=tokens_in,
                tokens_out=tokens_out,
                interrupted=interrupted,
                answered=answered,
            )
            if role == "user" and self.usage is not None:
                # Each question counts against the plan's messages, in the same transaction as
                # the message itself, so usage is never lost nor counted twice.
                await self.usage(conn, tenant_id, "message", 1, f"message:{message_id}")
        return message_id, created_at

    async def history(
        self,
        tenant_id: UUID,
        conversation_id: UUID,
        *,
        turns: int,
        token_budget: int,
        before: datetime | None = None,
    ) -> list[ChatMessage]:
        """The last ``turns`` turns (a user message and its answer each) that fit the budget,
        oldest first. Newer messages win: the budget is spent from the end."""
        if turns <= 0 or token_budget <= 0:
            return []
        rows = await self.pool.fetch(
            """SELECT role, content FROM messages
               WHERE tenant_id = $1 AND conversation_id = $2
                 AND role IN ('user', 'assistant') AND ($3::timestamptz IS NULL OR created_at < $3)
               ORDER BY created_at DESC, id DESC LIMIT $4""",
            tenant_id,
            conversation_id,
            before,
            turns * 2,
        )
        picked: list[ChatMessage] = []
        spent = 0
        for row in rows:
            cost = estimate_tokens(row["content"])
            if spent + cost > token_budget:
                break
            spent += cost
            picked.append(ChatMessage(role=row["role"], content=row["content"]))
        picked.reverse()
        while picked and picked[0].role == "assistant":
            picked.pop(0)  # a history starts with a question
        return picked

    async def list_conversations(
        self, tenant_id: UUID, bot_id: UUID, *, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            """SELECT c.id, c.channel, c.visitor_id, c.title, c.started_at, c.ended_at,
                      count(m.id) AS message_count, max(m.created_at) AS last_message_at
               FROM conversations c
               LEFT JOIN messages m ON m.tenant_id = c.tenant_id AND m.conversation_id = c.id
               WHERE c.tenant_id = $1 AND c.bot_id = $2
               GROUP BY c.id
               ORDER BY c.started_at DESC, c.id LIMIT $3 OFFSET $4""",
            tenant_id,
            bot_id,
            limit,
            offset,
        )
        return [
            {
                "id": str(r["id"]),
                "channel": r["channel"],
                "visitor_id": r["visitor_id"],
                "title": r["title"],
                "started_at": r["started_at"].isoformat(),
                "ended_at": r["ended_at"].isoformat() if r["ended_at"] else None,
                "message_count": r["message_count"],
                "last_message_at": (
                    r["last_message_at"].isoformat() if r["last_message_at"] else None
                ),
            }
            for r in rows
        ]

    async def transcript(
        self, tenant_id: UUID, bot_id: UUID, conversation_id: UUID
    ) -> dict[str, Any] | None:
        conversation = await self.pool.fetchrow(
            """SELECT id, bot_id, channel, visitor_id, title, started_at, ended_at
               FROM conversations WHERE tenant_id = $1 AND bot_id = $2 AND id = $3""",
            tenant_id,
            bot_id,
            conversation_id,
        )
        if conversation is None:
            return None
        rows = await self.pool.fetch(
            """SELECT id, role, content, citations, interrupted, tokens_in, tokens_out, created_at
               FROM messages WHERE tenant_id = $1 AND conversation_id = $2
               ORDER BY created_at, id""",
            tenant_id,
            conversation_id,
        )
        return {
            "id": str(conversation["id"]),
            "bot_id": str(conversation["bot_id"]),
            "channel": conversation["channel"],
            "visitor_id": conversation["visitor_id"],
            "title": conversation["title"],
            "started_at": conversation["started_at"].isoformat(),
            "messages": [
                {
                    "id": str(r["id"]),
                    "role": r["role"],
                    "content": r["content"],
                    "citations": _json(r["citations"]),
                    "interrupted": r["interrupted"],
                    "tokens_in": r["tokens_in"],
                    "tokens_out": r["tokens_out"],
                    "created_at": r["created_at"].isoformat(),
                }
                for r in rows
            ],
        }
