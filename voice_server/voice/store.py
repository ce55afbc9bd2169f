"""Where voice sessions, turns and messages are written: a protocol, and its PostgreSQL form.

Every statement is scoped by ``tenant_id`` (DESIGN principle 7). Conversations and messages
are written by :mod:`voice_server.conversations` (text chat writes through it too); this module
adds what only voice has: sessions and turns.

Billing hooks in through two callables, never an import: ``start_session(admit=...)`` runs the
quota check in the session's own transaction under a per-tenant lock, so two simultaneous
starts cannot both take the last concurrent session; ``PgVoiceStore(usage=...)`` records each
turn's billed voice seconds in the turn's own transaction (voice_server.voice.allowance).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Literal, Protocol
from uuid import UUID

import asyncpg

from voice_server import conversations
from voice_server.brain import BotProfile, ChatMessage, Citation
from voice_server.db.types import Connection
from voice_server.voice.allowance import UsageRecorder, billed_seconds, usage_key
from voice_server.voice.records import Resume, StoredSession, TurnRow
from voice_server.voice.resume import continue_conversation, new_secret


def citation_json(citation: Citation) -> dict[str, object]:
    """A citation as messages.citations holds it (the same shape text chat stores)."""
    return {
        "document_id": str(citation.document_id),
        "title": citation.title,
        "location": citation.location,
        "url": citation.url,
        "chunk_id": str(citation.chunk_id) if citation.chunk_id else None,
        "score": citation.score,
    }


__all__ = ["Admit", "AdmittingVoiceStore", "PgVoiceStore", "Role", "StoredSession", "TurnRow"]
__all__ += ["VoiceStore"]


Role = Literal["user", "assistant"]
# Runs in the session's start transaction, before its row is inserted; raises to refuse it.
Admit = Callable[[Connection], Awaitable[None]]


class VoiceStore(Protocol):
    async def find_bot(self, bot_id: UUID, tenant_id: UUID | None = None) -> BotProfile | None: ...

    async def start_session(
        self, bot: BotProfile, transport: str, input_rate: int | None, output_rate: int | None
    ) -> StoredSession: ...

    async def add_message(
        self,
        tenant_id: UUID,
        conversation_id: UUID,
        role: Role,
        content: str,
        *,
        interrupted: bool = False,
        tokens_in: int | None = None,
        tokens_out: int | None = None,
        answered: bool | None = None,
        citations: Sequence[Citation] = (),
    ) -> UUID: ...

    async def add_turn(self, tenant_id: UUID, session_id: UUID, turn: TurnRow) -> UUID: ...

    async def end_session(
        self,
        tenant_id: UUID,
        session: StoredSession,
        reason: str,
        audio_in_s: float,
        audio_out_s: float,
    ) -> None: ...


class AdmittingVoiceStore(VoiceStore, Protocol):
    """A store that can admit a session atomically (what the WebSocket transport needs)."""

    async def start_session(
        self,
        bot: BotProfile,
        transport: str,
        input_rate: int | None,
        output_rate: int | None,
        *,
        admit: Admit | None = None,
        resume: Resume | None = None,
    ) -> StoredSession: ...


class PgVoiceStore:
    def __init__(self, pool: asyncpg.Pool, *, usage: UsageRecorder | None = None) -> None:
        self._pool = pool
        self._usage = usage

    async def find_bot(self, bot_id: UUID, tenant_id: UUID | None = None) -> BotProfile | None:
        async with self._pool.acquire() as conn:
            return await conversations.find_bot(conn, bot_id, tenant_id)

    async def start_session(
        self,
        bot: BotProfile,
        transport: str,
        input_rate: int | None,
        output_rate: int | None,
        *,
        admit: Admit | None = None,
        resume: Resume | None = None,
    ) -> StoredSession:
        """The session's row (and a new conversation, unless ``resume`` continues one: raises
        ``ResumeRefused`` when it may not, before anything is written)."""
        token, token_hash = new_secret()
        history: tuple[ChatMessage, ...] = ()
        async with self._pool.acquire() as conn, conn.transaction():
            if admit is not None:
                # Check and insert hold the tenant's lock until commit: concurrent starts of one
                # tenant queue here, and each counts the sessions the ones before it inserted.
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended('voice_session:' || $1, 0))",
                    str(bot.tenant_id),
                )
                await admit(conn)
            if resume is not None:
                history = await continue_conversation(conn, bot, resume)
                conversation_id = resume.conversation_id
            else:
                conversation_id = await conversations.open_conversation(
                    conn, bot.tenant_id, bot.id, channel="voice"
                )
            session_id = await conn.fetchval(
                """INSERT INTO voice_sessions (tenant_id, bot_id, conversation_id, transport,
                       input_sample_rate, output_sample_rate, resume_hash)
                   VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id""",
                bot.tenant_id,
                bot.id,
                conversation_id,
                transport,
                input_rate,
                output_rate,
                token_hash,
            )
        return StoredSession(
            session_id, conversation_id, token, history, resumed=resume is not None
        )

    async def add_message(
        self,
        tenant_id: UUID,
        conversation_id: UUID,
        role: Role,
        content: str,
        *,
        interrupted: bool = False,
        tokens_in: int | None = None,
        tokens_out: int | None = None,
        answered: bool | None = None,
        citations: Sequence[Citation] = (),
    ) -> UUID:
        async with self._pool.acquire() as conn:
            message_id, _ = await conversations.add_message(
                conn,
                tenant_id,
                conversation_id,
                role,
                content,
                interrupted=interrupted,
                tokens_in=tokens_in,
                tokens_out=tokens_out,
                answered=answered,
                citations=[citation_json(c) for c in citations],
            )
        return message_id

    async def add_turn(self, tenant_id: UUID, session_id: UUID, turn: TurnRow) -> UUID:
        """Store the turn and record its billed voice seconds, in one transaction; writing the
        same turn again (same session and ordinal) changes and bills nothing more."""
        async with self._pool.acquire() as conn, conn.transaction():
            turn_id = await self._insert_turn(conn, tenant_id, session_id, turn)
            if turn_id is None:
                raise LookupError(f"voice session {session_id} is not this tenant's")
            if self._usage is not None:
                seconds = billed_seconds(turn)
                if seconds > 0:
                    key = usage_key(session_id, turn.ordinal)
                    await self._usage(conn, tenant_id, "voice_seconds", seconds, key)
        return turn_id

    async def _insert_turn(
        self, conn: Connection, tenant_id: UUID, session_id: UUID, turn: TurnRow
    ) -> UUID | None:
        turn_id: UUID | None = await conn.fetchval(
            """INSERT INTO turns (tenant_id, voice_session_id, ordinal, user_message_id,
                   assistant_message_id, speech_started_at, speech_ended_at, end_of_turn_wait_ms,
                   stt_final_ms, llm_first_token_ms, first_clause_ms, tts_first_byte_ms,
                   first_audio_ms, total_ms, played_ms, interrupted)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
               ON CONFLICT (voice_session_id, ordinal) DO UPDATE SET ordinal = turns.ordinal
                   WHERE turns.tenant_id = EXCLUDED.tenant_id
               RETURNING id""",
            tenant_id,
            session_id,
            turn.ordinal,
            turn.user_message_id,
            turn.assistant_message_id,
            turn.speech_started_at,
            turn.speech_ended_at,
            turn.end_of_turn_wait_ms,
            turn.stt_final_ms,
            turn.llm_first_token_ms,
            turn.first_clause_ms,
            turn.tts_first_byte_ms,
            turn.first_audio_ms,
            turn.total_ms,
            turn.played_ms,
            turn.interrupted,
        )
        return turn_id

    async def end_session(
        self,
        tenant_id: UUID,
        session: StoredSession,
        reason: str,
        audio_in_s: float,
        audio_out_s: float,
    ) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """UPDATE voice_sessions SET ended_at = now(), end_reason = $3,
                       audio_in_seconds = $4, audio_out_seconds = $5
                   WHERE tenant_id = $1 AND id = $2""",
                tenant_id,
                session.session_id,
                reason,
                audio_in_s,
                audio_out_s,
            )
            await conn.execute(
                "UPDATE conversations SET ended_at = now() WHERE tenant_id = $1 AND id = $2",
                tenant_id,
                session.conversation_id,
            )
