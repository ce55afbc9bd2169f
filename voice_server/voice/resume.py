"""Continuing a voice conversation from a new session (a network blip, a page reload).

Every session hands its caller a resume secret in ``session.started``; only its SHA-256 is
stored, on the session's row. A ``session.start`` naming a ``conversation_id`` must present the
secret of an earlier session of that conversation, of the same tenant and bot: knowing (or
guessing) a conversation's id is never enough, so one visitor cannot continue another's
conversation. Anything else is refused with :class:`ResumeRefused`, one message for every case
(no oracle telling "exists, wrong secret" from "no such conversation").
"""

from __future__ import annotations

import hashlib
import secrets

from voice_server.brain import BotProfile, ChatMessage
from voice_server.db.types import Connection
from voice_server.errors import NotFound
from voice_server.voice.records import Resume

# The brain sees at most this many earlier messages of a resumed conversation.
MAX_HISTORY = 50
_MAX_TOKEN_LENGTH = 100


class ResumeRefused(NotFound):
    """The conversation cannot be continued by this caller."""


def new_secret() -> tuple[str, bytes]:
    """A fresh resume secret and the hash stored for it."""
    token = secrets.token_urlsafe(32)
    return token, hash_secret(token)


def hash_secret(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


async def continue_conversation(
    conn: Connection, bot: BotProfile, resume: Resume
) -> tuple[ChatMessage, ...]:
    """Check ``resume`` for ``bot`` and reopen the conversation; its latest messages, oldest
    first. Raises :class:`ResumeRefused`."""
    refused = ResumeRefused(f"conversation {resume.conversation_id} cannot be resumed")
    if not resume.token or len(resume.token) > _MAX_TOKEN_LENGTH:
        raise refused
    proven = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM voice_sessions
               WHERE tenant_id = $1 AND bot_id = $2 AND conversation_id = $3
                 AND resume_hash = $4)""",
        bot.tenant_id,
        bot.id,
        resume.conversation_id,
        hash_secret(resume.token),
    )
    if not proven:
        raise refused
    await conn.execute(
        "UPDATE conversations SET ended_at = NULL WHERE tenant_id = $1 AND id = $2",
        bot.tenant_id,
        resume.conversation_id,
    )
    rows = await conn.fetch(
        """SELECT role, content FROM (
               SELECT role, content, created_at, id FROM messages
               WHERE tenant_id = $1 AND conversation_id = $2 AND role IN ('user', 'assistant')
                 AND content <> ''
               ORDER BY created_at DESC, id DESC LIMIT $3) latest
           ORDER BY created_at, id""",
        bot.tenant_id,
        resume.conversation_id,
        MAX_HISTORY,
    )
    return tuple(ChatMessage(row["role"], row["content"]) for row in rows)
