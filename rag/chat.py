"""One text-chat turn, independent of how it is delivered (SSE, JSON or WebSocket), and
:class:`ChatTurns`, the one implementation of the kernel's turn contract
(:class:`voice_server.turns.TurnService`) that chat and the dashboard's preview call.

The user's message is stored before the brain is asked, so nothing the visitor wrote is lost
even if the model fails; the reply is stored when it ends, or, when the client goes away or
cancels midway, as much of it as was written, marked interrupted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any
from uuid import UUID

from rag.conversations import citation_json
from rag.services import RagServices
from voice_server.brain import (
    BotProfile,
    Brain,
    BrainEvent,
    ChatMessage,
    Citation,
    ReplyDone,
    TextDelta,
    ToolCall,
)
from voice_server.errors import InvalidInput, NotFound, ParleyError
from voice_server.principal import Principal
from voice_server.turns import Channel, QuotaGate, TurnEvent, ask, check_scope
from voice_server.wire import ErrorEvent, slug_code

Event = TurnEvent


async def load_bot(services: RagServices, principal: Principal, bot_id: UUID) -> BotProfile:
    """The bot, if this caller may talk to it; another tenant's or key's bot looks absent."""
    if not principal.may_use_bot(bot_id):
        raise NotFound("no such bot")
    bot = await services.conversations.bot(principal.tenant_id, bot_id)
    if bot is None:
        raise NotFound("no such bot")
    return bot


async def open_conversation(
    services: RagServices,
    principal: Principal,
    bot: BotProfile,
    conversation_id: UUID | None,
    *,
    message: str,
    visitor_id: str | None,
    channel: str = "text",
) -> UUID:
    if conversation_id is not None:
        if not await services.conversations.exists(principal.tenant_id, bot.id, conversation_id):
            raise NotFound("no such conversation")
        return conversation_id
    return await services.conversations.create(
        principal.tenant_id, bot.id, channel=channel, visitor_id=visitor_id, title=message[:80]
    )


def check_message(services: RagServices, text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidInput("the message is empty", field="message")
    if "\x00" in text:  # PostgreSQL text cannot store it
        raise InvalidInput("the message may not contain NUL (\\u0000) characters", field="message")
    limit = services.settings.chat_max_message_chars
    if len(text) > limit:
        raise InvalidInput(f"the message is longer than {limit} characters", field="message")
    return text


def error_event(exc: ParleyError) -> Event:
    """The one error event of both WebSockets (voice_server.wire), also SSE's ``error``:
    ``code``, ``message``, ``fatal``, plus the HTTP ``status`` and ``detail`` of the problem."""
    details: dict[str, Any] = {"status": exc.status, "detail": exc.detail, **exc.extensions}
    return ErrorEvent(slug_code(exc.slug), exc.detail, details=details).to_wire()


async def run_turn(
    services: RagServices,
    brain: Brain,
    principal: Principal,
    bot: BotProfile,
    conversation_id: UUID,
    text: str,
) -> AsyncGenerator[Event, None]:
    """Events of one turn; the last is ``done`` or ``error``."""
    tenant_id = principal.tenant_id
    settings = services.settings
    store = services.conversations
    _, asked_at = await store.add_message(tenant_id, conversation_id, role="user", content=text)
    history = await store.history(
        tenant_id,
        conversation_id,
        turns=settings.chat_history_turns,
        token_budget=settings.chat_history_tokens,
        before=asked_at,
    )
    yield {"type": "conversation", "conversation_id": str(conversation_id)}
    started = time.perf_counter()
    first_token_ms: float | None = None
    written: list[str] = []
    citations: list[Citation] = []
    finished = False
    stream = ask(brain, bot, text, history=history, conversation_id=conversation_id, channel="text")
    try:
        async for event in stream:
            match event:
                case TextDelta(text=delta):
                    if first_token_ms is None:
                        first_token_ms = (time.perf_counter() - started) * 1000
                        if services.metrics is not None:
                            services.metrics.chat_first_token_seconds.observe(first_token_ms / 1000)
                    written.append(delta)
                    yield {"type": "delta", "text": delta}
                case ToolCall(name=name, arguments=arguments):
                    yield {"type": "tool_call", "name": name, "arguments": arguments}
                case Citation():
                    citations.append(event)
                    yield {"type": "citation", **citation_json(event)}
                case ReplyDone():
                    total_ms = (time.perf_counter() - started) * 1000
                    message_id, _ = await store.add_message(
                        tenant_id,
                        conversation_id,
                        role="assistant",
                        content=event.text,
                        citations=citations,
                        tokens_in=event.tokens_in,
                        tokens_out=event.tokens_out,
                        answered=event.answered,
                    )
                    finished = True
                    yield {
                        "type": "done",
                        "conversation_id": str(conversation_id),
                        "message_id": str(message_id),
                        "text": event.text,
                        "model": event.model,
                        "answered": event.answered,
                        "citations": [citation_json(c) for c in citations],
                        "usage": {"tokens_in": event.tokens_in, "tokens_out": event.tokens_out},
                        "timings": {
                            "first_token_ms": round(first_token_ms, 1) if first_token_ms else None,
                            "total_ms": round(total_ms, 1),
                        },
                    }
    except ParleyError as exc:
        yield error_event(exc)
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
        if not finished and written:
            # Cancelled (client gone, barge-in) or failed midway: keep what was said.
            await asyncio.shield(
                store.add_message(
                    tenant_id,
                    conversation_id,
                    role="assistant",
                    content="".join(written),
                    citations=citations,
                    interrupted=True,
                )
            )


class ChatTurns:
    """The turn service (:class:`voice_server.turns.TurnService`): rag's conversations keep
    the history, ``brain`` answers, ``quota`` (billing's, through the kernel's contract) counts
    messages; without billing nothing is counted."""

    def __init__(self, services: RagServices, brain: Brain, quota: QuotaGate | None) -> None:
        self.services = services
        self.brain = brain
        self.quota = quota

    async def bot(self, principal: Principal, bot_id: UUID, *, scope: str) -> BotProfile:
        check_scope(principal, scope)
        return await load_bot(self.services, principal, bot_id)

    async def admit(self, tenant_id: UUID) -> None:
        if self.quota is not None:
            await self.quota.check(tenant_id, "message")  # 402 once the plan's messages are used

    async def conversation(
        self,
        principal: Principal,
        bot: BotProfile,
        conversation_id: UUID | None,
        *,
        first_message: str,
        visitor_id: str | None,
    ) -> UUID:
        return await open_conversation(
            self.services,
            principal,
            bot,
            conversation_id,
            message=first_message,
            visitor_id=visitor_id,
        )

    def ask(
        self,
        bot: BotProfile,
        text: str,
        *,
        history: Sequence[ChatMessage] = (),
        conversation_id: UUID | None = None,
        channel: Channel = "text",
    ) -> AsyncIterator[BrainEvent]:
        return ask(
            self.brain, bot, text, history=history, conversation_id=conversation_id, channel=channel
        )

    def converse(
        self, principal: Principal, bot: BotProfile, conversation_id: UUID, text: str
    ) -> AsyncGenerator[TurnEvent, None]:
        return run_turn(self.services, self.brain, principal, bot, conversation_id, text)
