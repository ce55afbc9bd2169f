"""Ask a bot a question from the dashboard: the answer, its citations and how long it took.

The question goes through the kernel's one turn entry point (``voice_server.turns``) like chat
and voice do; the preview only skips the quota and stores nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Literal
from uuid import UUID

import msgspec

from dashboard_api.repositories.bots import BotRow
from voice_server.brain import BotProfile, ChatMessage, Citation, ReplyDone, TextDelta
from voice_server.errors import ServiceUnavailable
from voice_server.turns import TurnService

PREVIEW_TIMEOUT_S = 60.0


class CitationOut(msgspec.Struct):
    document_id: UUID
    title: str
    location: str | None
    url: str | None
    score: float | None


class Timings(msgspec.Struct):
    first_token_ms: float | None
    total_ms: float


class PreviewOut(msgspec.Struct):
    answer: str
    answered: bool
    model: str
    citations: list[CitationOut]
    timings: Timings


def profile(bot: BotRow) -> BotProfile:
    return BotProfile(
        id=bot.id,
        tenant_id=bot.tenant_id,
        name=bot.name,
        system_prompt=bot.system_prompt,
        greeting=bot.greeting,
        language=bot.language,
        config=bot.config,
    )


async def ask(
    turns: TurnService,
    bot: BotRow,
    question: str,
    history: Sequence[tuple[Literal["user", "assistant"], str]] = (),
) -> PreviewOut:
    said = [ChatMessage(role=role, content=text) for role, text in history]
    started = time.perf_counter()
    first_token_ms: float | None = None
    parts: list[str] = []
    citations: list[CitationOut] = []
    done: ReplyDone | None = None
    try:
        async with asyncio.timeout(PREVIEW_TIMEOUT_S):
            async for event in turns.ask(profile(bot), question, history=said, channel="text"):
                match event:
                    case TextDelta(text=text):
                        if first_token_ms is None and text:
                            first_token_ms = (time.perf_counter() - started) * 1000
                        parts.append(text)
                    case Citation():
                        citations.append(
                            CitationOut(
                                document_id=event.document_id,
                                title=event.title,
                                location=event.location,
                                url=event.url,
                                score=event.score,
                            )
                        )
                    case ReplyDone():
                        done = event
    except TimeoutError:
        raise ServiceUnavailable(f"the bot did not answer within {PREVIEW_TIMEOUT_S:g} s") from None
    total_ms = (time.perf_counter() - started) * 1000
    if done is None:
        raise ServiceUnavailable("the bot stopped without finishing its answer")
    return PreviewOut(
        answer=done.text or "".join(parts),
        answered=done.answered,
        model=done.model,
        citations=citations,
        timings=Timings(
            first_token_ms=None if first_token_ms is None else round(first_token_ms, 1),
            total_ms=round(total_ms, 1),
        ),
    )
