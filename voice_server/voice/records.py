"""What voice stores about a session and its turns (plain data: the store writes it, the
allowance bills it, the engine fills it in)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from voice_server.brain import ChatMessage


@dataclass(frozen=True)
class StoredSession:
    session_id: UUID
    conversation_id: UUID
    # The secret a later session.start presents to continue this conversation (None: a store
    # that does not support resuming).
    resume_token: str | None = None
    # A resumed conversation: its earlier messages, oldest first, for the brain (bounded).
    history: tuple[ChatMessage, ...] = ()
    resumed: bool = False


@dataclass(frozen=True)
class Resume:
    """A session.start that continues ``conversation_id``, proving it with ``token``."""

    conversation_id: UUID
    token: str


@dataclass
class TurnRow:
    ordinal: int
    user_message_id: UUID | None = None
    assistant_message_id: UUID | None = None
    speech_started_at: datetime | None = None
    speech_ended_at: datetime | None = None
    end_of_turn_wait_ms: float | None = None
    stt_final_ms: float | None = None
    llm_first_token_ms: float | None = None
    first_clause_ms: float | None = None
    tts_first_byte_ms: float | None = None
    first_audio_ms: float | None = None
    total_ms: float | None = None
    played_ms: float | None = None
    interrupted: bool = False
