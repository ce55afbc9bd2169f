"""What a session remembers: the conversation history the brain sees, and the store writes
(messages, turns, the session's end) in order, as they happen, off the audio path.

Writes go through an unbounded queue on purpose: each is one small row per turn, and dropping
one would lose a transcript; the worker reports a failure as an ``error`` event and goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from voice_server.brain import BotProfile, ChatMessage, Citation, ReplyDone
from voice_server.voice.store import StoredSession, TurnRow, VoiceStore

_log = logging.getLogger("parley.voice")

Job = Callable[[], Awaitable[None]]


class Recorder:
    def __init__(
        self,
        store: VoiceStore,
        bot: BotProfile,
        stored: StoredSession,
        on_failure: Callable[[], None],
    ) -> None:
        self.store = store
        self.bot = bot
        self.stored = stored
        self.history: list[ChatMessage] = []
        self._jobs: asyncio.Queue[Job] = asyncio.Queue()
        self._on_failure = on_failure

    def user(self, row: TurnRow, text: str) -> None:
        self.history.append(ChatMessage("user", text))

        async def write() -> None:
            row.user_message_id = await self.store.add_message(
                self.bot.tenant_id, self.stored.conversation_id, "user", text
            )

        self._jobs.put_nowait(write)

    def assistant(
        self,
        row: TurnRow,
        said: str,
        *,
        interrupted: bool,
        done: ReplyDone | None,
        citations: Sequence[Citation] = (),
    ) -> None:
        """The reply as heard (``said``), then the turn row that points at both messages."""
        if said:
            self.history.append(ChatMessage("assistant", said))

        async def write() -> None:
            if said or interrupted:
                row.assistant_message_id = await self.store.add_message(
                    self.bot.tenant_id,
                    self.stored.conversation_id,
                    "assistant",
                    said,
                    interrupted=interrupted,
                    tokens_in=done.tokens_in if done else None,
                    tokens_out=done.tokens_out if done else None,
                    # The brain's verdict, for analytics' unanswered questions (None if cut off).
                    answered=done.answered if done and not interrupted else None,
                    # What the answer was grounded on, as text chat stores it (also when cut off).
                    citations=citations,
                )
            await self.store.add_turn(self.bot.tenant_id, self.stored.session_id, row)

        self._jobs.put_nowait(write)

    def end(self, reason: str, audio_in_s: float, audio_out_s: float) -> None:
        stored = self.stored
        self._jobs.put_nowait(
            lambda: self.store.end_session(
                self.bot.tenant_id, stored, reason, audio_in_s, audio_out_s
            )
        )

    async def flush(self, timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._jobs.join()

    async def run(self) -> None:
        while True:
            job = await self._jobs.get()
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.exception("voice persistence failed")
                self._on_failure()
            finally:
                self._jobs.task_done()
