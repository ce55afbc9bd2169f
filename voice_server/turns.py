"""The one turn entry point: every reply, spoken or written, asks the brain through here.

A turn is the same five steps whichever door it comes through (the voice WebSocket or WebRTC,
the REST voice routes, text chat over SSE, JSON or its WebSocket, the dashboard's bot preview):
the caller's scope, the plan's quota, the conversation's history, the brain, and persistence.
This module is the kernel's contract for them, so no feature imports another to take a turn:

- :func:`ask` builds the one :class:`~voice_server.brain.BrainRequest` and streams the brain's
  events; voice's ``TurnRunner`` (history kept in memory, written by its recorder through
  :mod:`voice_server.conversations`), the REST voice route and the preview call it directly.
- :class:`TurnService` is the whole text turn (scope, quota, history, brain, persistence),
  implemented once by ``rag`` (``rag.chat.ChatTurns``, which keeps the history in the database)
  and published in the runtime's :data:`TURNS` slot; chat and the preview take it from there.
- :class:`QuotaGate` is billing's quota check as a contract, published in :data:`QUOTA`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any, Literal, Protocol
from uuid import UUID

from voice_server.brain import BotProfile, Brain, BrainEvent, BrainRequest, ChatMessage
from voice_server.db.types import Connection
from voice_server.errors import Forbidden
from voice_server.principal import Principal
from voice_server.runtime import Slot

Channel = Literal["text", "voice"]
# A text turn's events, as chat sends them (SSE event names and WebSocket ``type``s).
TurnEvent = dict[str, Any]


def check_scope(principal: Principal, scope: str) -> None:
    """403 unless the credential carries ``scope``: every turn's first step."""
    if scope not in principal.scopes:
        raise Forbidden(f"this credential lacks the `{scope}` scope", required_scope=scope)


def ask(
    brain: Brain,
    bot: BotProfile,
    text: str,
    *,
    history: Sequence[ChatMessage] = (),
    conversation_id: UUID | None = None,
    channel: Channel,
) -> AsyncIterator[BrainEvent]:
    """The brain's events for ``text`` after ``history`` (oldest first). Nothing is stored:
    callers persist through :mod:`voice_server.conversations` (chat) or their recorder (voice)."""
    request = BrainRequest(
        bot=bot,
        user_text=text,
        history=tuple(history),
        conversation_id=conversation_id,
        channel=channel,
    )
    return brain.reply(request)


class QuotaGate(Protocol):
    """Billing's quota (``billing.quota.QuotaService.check``): raises ``QuotaExceeded`` (402)
    when doing ``amount`` more of ``kind`` would pass the plan's limit."""

    async def check(
        self,
        tenant_id: UUID,
        kind: Literal["message", "voice_seconds", "voice_session"],
        amount: float = 1,
        *,
        conn: Connection | None = None,
    ) -> object: ...


class TurnService(Protocol):
    """One text turn, from the credential to the stored reply."""

    async def bot(self, principal: Principal, bot_id: UUID, *, scope: str) -> BotProfile:
        """The bot, if the credential has ``scope`` and may use it (another's looks absent)."""
        ...

    async def admit(self, tenant_id: UUID) -> None:
        """One more message on the plan, or 402."""
        ...

    async def conversation(
        self,
        principal: Principal,
        bot: BotProfile,
        conversation_id: UUID | None,
        *,
        first_message: str,
        visitor_id: str | None,
    ) -> UUID:
        """The conversation to continue (404 if it is not the bot's), or a new one."""
        ...

    def ask(
        self,
        bot: BotProfile,
        text: str,
        *,
        history: Sequence[ChatMessage] = (),
        conversation_id: UUID | None = None,
        channel: Channel = "text",
    ) -> AsyncIterator[BrainEvent]:
        """:func:`ask` with this service's brain (the preview: nothing stored)."""
        ...

    def converse(
        self, principal: Principal, bot: BotProfile, conversation_id: UUID, text: str
    ) -> AsyncGenerator[TurnEvent, None]:
        """The question stored, the history loaded, the brain asked, the reply stored (or as
        much as was written, marked interrupted, if the caller goes away). Ends with ``done``
        or ``error``."""
        ...


TURNS: Slot[TurnService] = Slot(
    "turns", "the knowledge service is starting or stopping; retry shortly"
)
QUOTA: Slot[QuotaGate] = Slot("quota", "the billing service is starting or stopping; retry shortly")
