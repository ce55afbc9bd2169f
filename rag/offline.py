"""The answerer used when no language model is configured.

It does not pretend to be one: it says plainly that no language model is configured and reads
back the passage of the knowledge base that best matches the question (or the bot's greeting
when nothing matches). Voice turns speak the same words, so it is split into sentences.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from rag.retriever import Retriever
from voice_server.brain import BrainEvent, BrainRequest, ReplyDone, TextDelta

MODEL_NAME = "offline"


class OfflineBrain:
    def __init__(self, retriever: Retriever) -> None:
        self.retriever = retriever

    async def reply(self, request: BrainRequest) -> AsyncIterator[BrainEvent]:
        bot = request.bot
        found = await self.retriever.retrieve(bot.tenant_id, request.user_text, bot_id=bot.id)
        # Its own verdict: it answers (reads a passage back) only above the relevance threshold.
        passages = found.passages if found.matched else []
        if passages:
            best = passages[0]
            source = best.title or "the knowledge base"
            if best.location:
                source += f" ({best.location})"
            text = (
                "No language model is configured, so I cannot compose an answer. "
                f"This is the passage from {source} that best matches your question: "
                f"{_passage_text(best.content, best.location)}"
            )
            yield best.citation()
        else:
            text = (
                "No language model is configured, and nothing in the knowledge base matches "
                "your question."
            )
            topics = await self.retriever.topics(bot.tenant_id, bot.id, limit=5)
            if topics:
                text += " I can read you what the documents say about: " + "; ".join(topics) + "."
            elif bot.greeting:
                text += f" {bot.greeting}"
        for sentence in re.findall(r"[^.!?]+[.!?]*\s*", text):
            yield TextDelta(sentence)
        yield ReplyDone(text=text, model=MODEL_NAME, answered=bool(passages))


def _passage_text(content: str, location: str | None) -> str:
    lines = content.split("\n")
    # A chunk under a heading starts by restating its heading path; read the body.
    if (
        len(lines) > 1
        and location
        and (lines[0] == location or location.startswith(lines[0] + ", "))
    ):
        lines = lines[1:]
    return " ".join(" ".join(lines).split())
