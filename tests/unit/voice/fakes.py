"""Small in-test fakes of the speech and brain protocols, and an in-memory store.

Real providers (pocketsphinx, eSpeak NG, Groq, Deepgram) have their own tests; these make the
pipeline's behaviour observable and deterministic.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import numpy as np

from voice_server.brain import (
    BotProfile,
    BrainEvent,
    BrainRequest,
    Citation,
    ReplyDone,
    TextDelta,
)
from voice_server.voice.providers.base import ProviderError, Transcript, VoiceOptions
from voice_server.voice.store import Role, StoredSession, TurnRow


@dataclass
class ScriptedStt:
    """Returns the next scripted text per non-empty chunk (then ``default``)."""

    texts: list[str] = field(default_factory=list)
    default: str = "hello"
    failures: list[ProviderError] = field(default_factory=list)
    name: str = "scripted-stt"
    calls: int = 0

    async def transcribe(
        self, pcm16: bytes, sample_rate: int, *, language: str | None = None
    ) -> Transcript:
        self.calls += 1
        await asyncio.sleep(0)
        if self.failures:
            raise self.failures.pop(0)
        text = self.texts.pop(0) if self.texts else self.default
        return Transcript(text, language, len(pcm16) / 2 / sample_rate)

    async def aclose(self) -> None:
        pass


@dataclass
class ToneTts:
    """Speaks every clause as a tone, ``ms_per_char`` long, in 10 ms chunks."""

    ms_per_char: float = 10.0
    failures: list[ProviderError] = field(default_factory=list)
    name: str = "tone-tts"
    spoken: list[str] = field(default_factory=list)

    async def synthesize(
        self, text: str, *, sample_rate: int, options: VoiceOptions
    ) -> AsyncIterator[bytes]:
        if self.failures:
            raise self.failures.pop(0)
        self.spoken.append(text)
        n = int(sample_rate * len(text) * self.ms_per_char / 1000)
        wave = (np.sin(np.arange(n) / 5) * 6000).astype("<i2").tobytes()
        step = sample_rate // 100 * 2
        for i in range(0, len(wave), step):
            await asyncio.sleep(0)
            yield wave[i : i + step]

    async def aclose(self) -> None:
        pass


@dataclass
class EchoBrain:
    """A test-only brain: answers with a fixed reply (or echoes), word by word."""

    reply_text: str | None = None
    failures: list[Exception] = field(default_factory=list)
    requests: list[BrainRequest] = field(default_factory=list)
    delay_s: float = 0.0
    cancelled: bool = False
    citations: list[Citation] = field(default_factory=list)  # cited before the reply ends

    async def reply(self, request: BrainRequest) -> AsyncIterator[BrainEvent]:
        self.requests.append(request)
        if self.failures:
            raise self.failures.pop(0)
        text = self.reply_text or f"You said: {request.user_text}."
        try:
            for word in text.split(" "):
                await asyncio.sleep(self.delay_s)
                yield TextDelta(word + " ")
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        for citation in self.citations:
            yield citation
        yield ReplyDone(text=text, model="echo")


@dataclass
class MemoryStore:
    bots: dict[UUID, BotProfile] = field(default_factory=dict)
    sessions: dict[UUID, dict[str, Any]] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    turns: list[TurnRow] = field(default_factory=list)

    async def find_bot(self, bot_id: UUID, tenant_id: UUID | None = None) -> BotProfile | None:
        return self.bots.get(bot_id)

    async def start_session(
        self, bot: BotProfile, transport: str, input_rate: int | None, output_rate: int | None
    ) -> StoredSession:
        stored = StoredSession(uuid.uuid4(), uuid.uuid4())
        self.sessions[stored.session_id] = {"transport": transport, "ended": None}
        return stored

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
        message_id = uuid.uuid4()
        self.messages.append(
            {
                "id": message_id,
                "role": role,
                "content": content,
                "interrupted": interrupted,
                "answered": answered,
                # Only when there are some, so exact comparisons of uncited messages hold.
                **({"citations": list(citations)} if citations else {}),
            }  # fmt: skip
        )
        return message_id

    async def add_turn(self, tenant_id: UUID, session_id: UUID, turn: TurnRow) -> UUID:
        self.turns.append(turn)
        return uuid.uuid4()

    async def end_session(
        self,
        tenant_id: UUID,
        session: StoredSession,
        reason: str,
        audio_in_s: float,
        audio_out_s: float,
    ) -> None:
        self.sessions[session.session_id]["ended"] = reason


def make_bot() -> BotProfile:
    return BotProfile(id=uuid.uuid4(), tenant_id=uuid.uuid4(), name="Test bot")
