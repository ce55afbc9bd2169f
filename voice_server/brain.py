"""The brain of a turn: history + retrieval + language model, behind one interface.

Voice turns and text chat both call a :class:`Brain`. ``rag`` provides the real one (the
LangChain agent with knowledge tools, or the offline answerer when no model is configured);
the voice pipeline only sees this protocol and the events it yields.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from uuid import UUID


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["system", "user", "assistant", "tool"]
    content: str


@dataclass(frozen=True)
class BotProfile:
    """What a brain needs to know about the bot it speaks for (from the ``bots`` row)."""

    id: UUID
    tenant_id: UUID
    name: str
    system_prompt: str = ""
    greeting: str = ""
    language: str = "en"
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BrainRequest:
    bot: BotProfile
    user_text: str
    history: Sequence[ChatMessage] = ()
    conversation_id: UUID | None = None
    channel: Literal["text", "voice"] = "text"


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Citation:
    document_id: UUID
    title: str
    location: str | None = None  # page or heading path
    url: str | None = None
    chunk_id: UUID | None = None
    score: float | None = None


@dataclass(frozen=True)
class ReplyDone:
    text: str
    model: str
    tokens_in: int | None = None
    tokens_out: int | None = None
    answered: bool = True  # False when the knowledge base had nothing relevant


BrainEvent = TextDelta | ToolCall | Citation | ReplyDone


class Brain(Protocol):
    def reply(self, request: BrainRequest) -> AsyncIterator[BrainEvent]:
        """Stream the reply: text deltas as the model writes, then exactly one ReplyDone.
        Cancelling the iteration (barge-in) must stop the model's work."""
        ...
