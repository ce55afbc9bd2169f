"""One voice conversation, supervised: the tasks of a call, started together and ended together.

The work is done by parts that each have one job: the :class:`Listener` (audio → VAD → turn
events, STT while the user speaks), the :class:`TurnRunner` (brain → clauses → TTS → pacer for
each reply), the :class:`Outbox` (the only task that talks to the :class:`Transport`) and the
:class:`Recorder` (history and store writes, in order). The session owns their tasks in one
``asyncio.TaskGroup``, runs at most one reply at a time (barge-in cancels it; what the listener
heard is recorded, marked interrupted), watches the idle timeout and the maximum length, and
closes once, idempotently, cancelling and awaiting every task.

A transport drives it: ``async with session`` (or ``SessionManager.run``), then
:meth:`feed_audio` for each chunk of caller audio, and :meth:`end` when the caller ends;
:attr:`finished` is set when the session ends itself (plan limit, idle, maximum length).
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

from voice_server.brain import BotProfile
from voice_server.voice.allowance import END_REASON, SessionAllowance
from voice_server.voice.config import VoiceConfig
from voice_server.voice.engine.budget import TurnBudget
from voice_server.voice.engine.lifetime import IDLE_REASON, MAX_LENGTH_REASON, Lifetime, watch
from voice_server.voice.engine.listener import Listener, SessionOverflow, TurnTaking
from voice_server.voice.engine.outbox import OUTBOUND_QUEUE, Outbox
from voice_server.voice.engine.recorder import Recorder
from voice_server.voice.engine.runner import APOLOGY, Engines, ReplyTurn, TurnRunner
from voice_server.voice.engine.transport import Transport
from voice_server.voice.protocol import (
    ServerEvent,
    SessionEnded,
    SessionStarted,
    TranscriptPartial,
    VadEnd,
    VadStart,
    error_event,
)
from voice_server.voice.recordings import SessionRecording
from voice_server.voice.store import StoredSession
from voice_server.voice.turn import (
    BargeIn,
    TurnEvent,
    UserSpeechStarted,
    UserTurnEnded,
    UtteranceIgnored,
)

SHUTDOWN_REASON = "server_shutdown"

__all__ = ["APOLOGY", "OUTBOUND_QUEUE", "Engines", "Lifetime", "SessionOverflow", "VoiceSession"]
__all__ += ["Transport", "TurnTaking"]


class VoiceSession:
    def __init__(
        self,
        engines: Engines,
        config: VoiceConfig,
        bot: BotProfile,
        transport: Transport,
        *,
        input_rate: int,
        channels: int = 1,
        output_rate: int | None = None,
        transport_name: str = "websocket",
        stored: StoredSession | None = None,
        allowance: SessionAllowance | None = None,
        turn_taking: TurnTaking | None = None,
        lifetime: Lifetime = Lifetime(),
        greeting: str | None = None,
    ) -> None:
        self.engines = engines
        self.config = config
        self.bot = bot
        self.transport_name = transport_name
        self.input_rate = input_rate
        self.channels = channels
        self.output_rate = output_rate or config.output_sample_rate
        self.lifetime = lifetime
        # The bot speaks first; the bot's own greeting unless the caller gives one ("": none).
        self.greeting = bot.greeting if greeting is None else greeting
        self._clock = engines.clock
        self._out = Outbox(transport)
        self._listener = Listener(
            config,
            turn_taking or TurnTaking.from_config(config),
            engines.stt,
            input_rate=input_rate,
            channels=channels,
            on_partial=lambda u, text: self.emit(TranscriptPartial(u, text)),
        )
        self.turns = self._listener.turns
        self._budget = TurnBudget(allowance, self.output_rate)
        self._runner: TurnRunner | None = None
        self._audio_in_bytes = 0
        self._last_audio = self._clock.now()
        self._current: ReplyTurn | None = None
        self._reply_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._group: asyncio.TaskGroup | None = None
        self._closed = False
        self.end_reason = "client_closed"
        # Given when the transport admitted the session (quota checked, row inserted).
        self.stored = stored
        # Set when the session ends on its own: the transport stops reading and closes.
        self.finished = asyncio.Event()
        self._call: SessionRecording | None = None  # the call recording, if the bot records
        self._draining = False  # the server is shutting down: no new reply starts

    @property
    def allowance(self) -> SessionAllowance | None:
        return self._budget.allowance

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> VoiceSession:
        if self.stored is None:
            self.stored = await self.engines.store.start_session(
                self.bot, self.transport_name, self.input_rate, self.output_rate
            )
        if self.engines.metrics is not None:
            self.engines.metrics.sessions.labels(self.transport_name).inc()
        if self.engines.recordings is not None:
            self._call = self.engines.recordings.start(
                self.bot, self.stored, input_rate=self.input_rate, channels=self.channels,
                output_rate=self.output_rate, clock=self._clock.now,
            )  # fmt: skip
            if self._call is not None:
                self._out.tap = self._call.feed_bot
        recorder = Recorder(self.engines.store, self.bot, self.stored, self._storage_failed)
        recorder.history.extend(self.stored.history)
        self._recorder = recorder
        self._runner = TurnRunner(
            self.engines,
            self.config,
            self.bot,
            output_rate=self.output_rate,
            outbox=self._out,
            recorder=recorder,
            budget=self._budget,
            turns=self.turns,
        )
        self._group = asyncio.TaskGroup()
        await self._group.__aenter__()
        self._spawn(self._out.run(), "writer")
        self._spawn(self._listener.transcriber.run(), "stt")
        self._spawn(recorder.run(), "persistence")
        self._spawn(
            watch(
                self.lifetime,
                self._clock,
                lambda: self._last_audio,
                lambda: self.end(IDLE_REASON),
                self._at_max_length,
            ),
            "lifetime",
        )
        self.emit(
            SessionStarted(
                str(self.stored.session_id),
                str(self.stored.conversation_id),
                self.input_rate,
                self.output_rate,
                self.channels,
                self.stored.resume_token,
                self.stored.resumed,
            )
        )
        # A resumed conversation was greeted when it began: it goes on where it stopped.
        if self.greeting and not self.stored.resumed:
            turn = self._runner.begin(None)
            self._start(turn, self._runner.say(turn, self.greeting))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None and self.end_reason == "client_closed":
            self.end_reason = "error" if exc_type is not asyncio.CancelledError else "cancelled"
        await self.close(self.end_reason)
        assert self._group is not None
        await self._group.__aexit__(exc_type, exc, tb)

    def end(self, reason: str) -> None:
        """The session should end for ``reason`` (the first reason given stands); the transport
        sees :attr:`finished` and leaves the ``async with``, which closes it."""
        if not self.finished.is_set():
            self.end_reason = reason
            self.finished.set()

    async def close(self, reason: str | None = None) -> None:
        """Stop the session: the reply in flight is recorded as heard, writes are flushed, every
        task is cancelled. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if reason is not None and not self.finished.is_set():
            self.end_reason = reason
        self.finished.set()
        self._interrupt(notify=False)
        if self._runner is not None:
            audio_in_s = self._audio_in_bytes / (2 * self.channels * self.input_rate)
            audio_out_s = self._out.samples_sent / self.output_rate
            self._recorder.end(self.end_reason, audio_in_s, audio_out_s)
            # Everything is written before the client hears that the session ended.
            await self._recorder.flush(5.0)
        if self._call is not None:
            await self._call.finish()  # the file is finished in a worker thread
        self.emit(SessionEnded(self.end_reason))
        await self._out.flush(1.0)
        for task in list(self._tasks):
            task.cancel()

    async def drain(self, notice: str) -> None:
        """Server shutdown: the reply in flight plays to its end (and is stored whole), no new
        reply starts, the notice is said, and the session ends with ``server_shutdown``."""
        if self._closed or self.finished.is_set() or self._runner is None:
            return
        self._draining = True
        task = self._reply_task
        if task is not None and not task.done():
            await asyncio.wait((task,))  # a barge-in may still cancel it: that is recorded too
        if self._closed or self.finished.is_set():
            return
        if notice:
            await self._runner.announce(SHUTDOWN_REASON, notice)
        self.end(SHUTDOWN_REASON)

    def client_gone(self) -> None:
        """The transport saw the client disconnect: nothing more can be sent."""
        self._out.gone = True
        self.end("client_disconnected")

    @property
    def tasks(self) -> set[asyncio.Task[Any]]:
        """The session's tasks still running (empty once it has closed)."""
        return {t for t in self._tasks if not t.done()}

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        assert self._group is not None
        task: asyncio.Task[Any] = self._group.create_task(coro, name=f"voice-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _at_max_length(self) -> None:
        self._interrupt(notify=True)
        assert self._runner is not None
        await self._runner.announce(MAX_LENGTH_REASON, self.lifetime.max_length_notice)
        self.end(MAX_LENGTH_REASON)

    # -- input ------------------------------------------------------------------------------

    def feed_audio(self, pcm: bytes) -> None:
        """Client audio (whole samples, at the session's input rate and channels)."""
        if self._closed or self.finished.is_set():
            return
        self._audio_in_bytes += len(pcm)
        self._last_audio = self._clock.now()
        if self._call is not None:
            self._call.feed_caller(pcm)
        for event in self._listener.feed(pcm):
            self._on_turn_event(event)

    def end_of_audio(self) -> None:
        """The client will send no more audio: an utterance in progress ends now."""
        for event in self._listener.flush():
            self._on_turn_event(event)

    def _on_turn_event(self, event: TurnEvent) -> None:
        match event:
            case UserSpeechStarted(utterance=u, at_ms=at):
                self.emit(VadStart(u, at))
            case BargeIn():
                self._interrupt(notify=True)
            case UserTurnEnded():
                self.emit(VadEnd(event.utterance, event.ended_ms))
                self._start_reply(event)
            case UtteranceIgnored(utterance=u):
                self.emit(VadEnd(u, ignored=True))

    # -- output -----------------------------------------------------------------------------

    def emit(self, event: ServerEvent) -> None:
        self._out.event(event)

    def _start_reply(self, ended: UserTurnEnded) -> None:
        assert self._runner is not None
        if self._draining:  # the server is going away: the notice comes instead of a reply
            return
        turn = self._runner.begin(
            ended.utterance,
            spoken_ms=ended.ended_ms - ended.started_ms,
            wait_ms=ended.decided_ms - ended.ended_ms,
            rule=ended.rule,
        )
        self._start(turn, self._reply(turn))
        if (refresh := self._budget.refresh()) is not None:
            self._spawn(refresh, f"allowance-{turn.ordinal}")

    def _start(self, turn: ReplyTurn, work: Any) -> None:
        self._interrupt(notify=False)  # one reply at a time
        self._current = turn
        self._reply_task = self._spawn(work, f"reply-{turn.ordinal}")

    async def _reply(self, turn: ReplyTurn) -> None:
        assert self._runner is not None
        assert turn.utterance is not None
        heard = await self._listener.transcriber.result(turn.utterance)
        if await self._runner.answer(turn, heard):
            self.emit(self._budget.exhausted_event())
            self.end(END_REASON)

    def _interrupt(self, *, notify: bool) -> None:
        """Barge-in (or the end): stop the reply in flight and record what was heard."""
        turn, task = self._current, self._reply_task
        if turn is None or turn.recorded or self._runner is None:
            return
        if task is not None:
            task.cancel()
        self._runner.interrupt(turn, notify=notify)

    def _storage_failed(self) -> None:
        if self.engines.metrics is not None:
            self.engines.metrics.errors.labels("storage", "storage_failed").inc()
        message = "the conversation could not be saved"
        self.emit(error_event("storage_failed", message, stage="storage"))
