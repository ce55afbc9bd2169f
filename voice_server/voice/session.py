"""One voice conversation: audio in → VAD/turns → STT → brain → clauses → TTS → paced audio out.

The session owns its tasks in one ``asyncio.TaskGroup``: a writer (the only task that talks to
the client), an STT worker (transcribes VAD chunks while the user still speaks), a persistence
worker (writes sessions, messages and turns in order, as they happen) and at most one reply
task per turn (brain → clause queue → TTS → pacer, three tasks of its own group). Barge-in and
disconnects cancel the reply; what the listener heard is recorded, marked interrupted.

The transport feeds it with :meth:`feed_audio` (synchronous: resampling and VAD are
microseconds per frame) and receives events and audio through an :class:`Outbound`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Protocol

from voice_server.brain import (
    BotProfile,
    Brain,
    BrainRequest,
    ChatMessage,
    ReplyDone,
    TextDelta,
)
from voice_server.voice.allowance import (
    END_REASON,
    QUOTA_EXCEEDED,
    SessionAllowance,
    speech_seconds,
)
from voice_server.voice.audio import InputNormaliser, duration_ms
from voice_server.voice.clauses import ClauseSplitter
from voice_server.voice.config import VoiceConfig
from voice_server.voice.pacer import AudioPacer, Playback
from voice_server.voice.policies import MinSpeechBargeIn, SilenceEndOfTurn
from voice_server.voice.protocol import error_event
from voice_server.voice.providers.base import ProviderError, SpeechToText, TextToSpeech
from voice_server.voice.store import StoredSession, TurnRow, VoiceStore
from voice_server.voice.transcriber import ChunkTranscriber, TranscriberOverflow
from voice_server.voice.turn import (
    BargeIn,
    TranscribeChunk,
    TurnController,
    TurnEvent,
    UserSpeechStarted,
    UserTurnEnded,
    UtteranceIgnored,
)
from voice_server.voice.vad import UtteranceSegmenter, WebRtcVad
from voice_server.voice.waterfall import VoiceMetrics, Waterfall

_log = logging.getLogger("parley.voice")

APOLOGY = "Sorry, something went wrong on my side. Please try again."
OUTBOUND_QUEUE = 512
CLAUSE_QUEUE = 16


class Outbound(Protocol):
    async def send_json(self, data: dict[str, Any]) -> None: ...

    async def send_bytes(self, data: bytes) -> None: ...


class SessionOverflow(Exception):
    """The client does not read fast enough; the session cannot continue."""


@dataclass
class Engines:
    """What a session talks to. ``fallback_tts`` speaks the apology when the TTS vendor fails."""

    stt: SpeechToText
    tts: TextToSpeech
    brain: Brain
    store: VoiceStore
    metrics: VoiceMetrics | None = None
    fallback_tts: TextToSpeech | None = None
    clock: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class _Clause:
    text: str
    apology: bool = False


@dataclass
class _Turn:
    ordinal: int
    utterance: int
    waterfall: Waterfall
    row: TurnRow
    pacer: AudioPacer
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    text: list[str] = field(default_factory=list)
    done: ReplyDone | None = None
    audio_started: bool = False
    recorded: bool = False
    tts_failed: bool = False
    pushed_samples: int = 0
    limit_notice: bool = False  # the turn ends with the plan's limit notice, then the session


class VoiceSession:
    def __init__(
        self,
        engines: Engines,
        config: VoiceConfig,
        bot: BotProfile,
        outbound: Outbound,
        *,
        input_rate: int,
        channels: int = 1,
        output_rate: int | None = None,
        transport: str = "websocket",
        stored: StoredSession | None = None,
        allowance: SessionAllowance | None = None,
    ) -> None:
        self.engines = engines
        self.config = config
        self.bot = bot
        self.transport = transport
        self.input_rate = input_rate
        self.channels = channels
        self.output_rate = output_rate or config.output_sample_rate
        self._out = outbound
        self._clock = engines.clock
        self._normaliser = InputNormaliser(input_rate, channels, config.frame_ms)
        self._segmenter = UtteranceSegmenter(
            config.segmenter,
            WebRtcVad(config.vad_aggressiveness),
            SilenceEndOfTurn(config.end_of_turn_silence_ms),
        )
        self.turns = TurnController(MinSpeechBargeIn(config.barge_in_min_ms))
        self._frames_in = 0
        self._audio_in_bytes = 0
        self._audio_out_samples = 0
        self._history: list[ChatMessage] = []
        self._ordinal = 0
        self._stt = ChunkTranscriber(engines.stt, config.voice.language, self._partial)
        self._current: _Turn | None = None
        self._reply_task: asyncio.Task[None] | None = None
        self._outq: asyncio.Queue[tuple[str, Any, Any]] = asyncio.Queue(OUTBOUND_QUEUE)
        self._dbq: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._group: asyncio.TaskGroup | None = None
        self._closed = False
        self._client_gone = False
        self.end_reason = "client_closed"
        # Given when the transport admitted the session (quota checked, row inserted).
        self.stored: StoredSession | None = stored
        # The plan's voice seconds left (None: not capped); spent, the session ends itself.
        self.allowance = allowance
        # Set when the session ends on its own: the transport stops reading and closes.
        self.finished = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> VoiceSession:
        if self.stored is None:
            self.stored = await self.engines.store.start_session(
                self.bot, self.transport, self.input_rate, self.output_rate
            )
        if self.engines.metrics is not None:
            self.engines.metrics.sessions.labels(self.transport).inc()
        self._group = asyncio.TaskGroup()
        await self._group.__aenter__()
        self._spawn(self._writer(), "writer")
        self._spawn(self._stt.run(), "stt")
        self._spawn(self._persistence_worker(), "persistence")
        self.emit(
            {
                "type": "session.started",
                "session_id": str(self.stored.session_id),
                "conversation_id": str(self.stored.conversation_id),
                "input_sample_rate": self.input_rate,
                "output_sample_rate": self.output_rate,
                "channels": self.channels,
            }
        )
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

    async def close(self, reason: str) -> None:
        """Stop the session: the reply in flight is recorded as heard, writes are flushed, every
        task is cancelled. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.end_reason = reason
        self._interrupt(notify=False)
        if self.stored is not None:
            stored = self.stored
            audio_in_s = self._audio_in_bytes / (2 * self.channels * self.input_rate)
            audio_out_s = self._audio_out_samples / self.output_rate
            self._persist(
                lambda: self.engines.store.end_session(
                    self.bot.tenant_id, stored, reason, audio_in_s, audio_out_s
                )
            )
        # Everything is written before the client hears that the session ended.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5.0):
                await self._dbq.join()
        if not self._client_gone:
            self.emit({"type": "session.ended", "reason": reason})
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._outq.join()
        for task in list(self._tasks):
            task.cancel()

    def client_gone(self) -> None:
        """The transport saw the client disconnect: nothing more can be sent."""
        self._client_gone = True

    @property
    def tasks(self) -> set[asyncio.Task[Any]]:
        """The session's tasks still running (empty once it has closed)."""
        return {t for t in self._tasks if not t.done()}

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        assert self._group is not None
        task: asyncio.Task[Any] = self._group.create_task(coro, name=f"voice-{name}")  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- input ------------------------------------------------------------------------------

    def feed_audio(self, pcm: bytes) -> None:
        """Client audio (whole samples, at the session's input rate and channels)."""
        if self._closed or self.finished.is_set():
            return
        self._audio_in_bytes += len(pcm)
        for frame in self._normaliser.feed(pcm):
            at_ms = self._frames_in * self.config.frame_ms
            self._frames_in += 1
            for vad_event in self._segmenter.feed(frame, at_ms):
                for event in self.turns.feed(vad_event):
                    self._on_turn_event(event)

    def end_of_audio(self) -> None:
        """The client will send no more audio: an utterance in progress ends now."""
        at_ms = self._frames_in * self.config.frame_ms
        for vad_event in self._segmenter.flush(at_ms):
            for event in self.turns.feed(vad_event):
                self._on_turn_event(event)

    def _on_turn_event(self, event: TurnEvent) -> None:
        match event:
            case UserSpeechStarted(utterance=u, at_ms=at):
                self.emit({"type": "vad.start", "utterance": u, "at_ms": at})
            case TranscribeChunk(chunk=chunk):
                try:
                    self._stt.submit(chunk)
                except TranscriberOverflow as exc:
                    raise SessionOverflow(str(exc)) from None
            case BargeIn():
                self._interrupt(notify=True)
            case UserTurnEnded():
                self.emit(
                    {"type": "vad.end", "utterance": event.utterance, "at_ms": event.ended_ms}
                )
                self._start_reply(event)
            case UtteranceIgnored(utterance=u):
                self._stt.forget(u)
                self.emit({"type": "vad.end", "utterance": u, "ignored": True})

    # -- output -----------------------------------------------------------------------------

    def emit(self, event: dict[str, Any]) -> None:
        self._enqueue(("json", event, None))

    def _enqueue(self, item: tuple[str, Any, Any]) -> None:
        if self._client_gone:
            return
        try:
            self._outq.put_nowait(item)
        except asyncio.QueueFull:
            raise SessionOverflow("the client does not read fast enough") from None

    async def _writer(self) -> None:
        while True:
            kind, payload, turn = await self._outq.get()
            try:
                if self._client_gone:
                    continue
                if kind == "json":
                    await self._out.send_json(payload)
                elif isinstance(turn, _Turn) and turn is self._current and not turn.recorded:
                    # Audio of a reply that was interrupted is dropped here, unsent.
                    turn.waterfall.mark("first_audio")
                    await self._out.send_bytes(payload)
                    self._audio_out_samples += len(payload) // 2
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the socket is gone; the transport sees the disconnect
                _log.debug("voice writer stopped: %r", exc)
                self._client_gone = True
            finally:
                self._outq.task_done()

    def _partial(self, utterance: int, text: str) -> None:
        self._segmenter.hint = self.turns.hint = text
        self.emit({"type": "transcript.partial", "utterance": utterance, "text": text})

    # -- a reply ----------------------------------------------------------------------------

    def _start_reply(self, ended: UserTurnEnded) -> None:
        now = self._clock()
        wait_ms = ended.decided_ms - ended.ended_ms
        wall = datetime.now(UTC)
        row = TurnRow(
            ordinal=self._ordinal,
            speech_started_at=wall - timedelta(milliseconds=ended.decided_ms - ended.started_ms),
            speech_ended_at=wall - timedelta(milliseconds=wait_ms),
            end_of_turn_wait_ms=wait_ms,
        )
        self._ordinal += 1
        turn = _Turn(
            ordinal=row.ordinal,
            utterance=ended.utterance,
            waterfall=Waterfall(origin=now, clock=self._clock, end_of_turn_wait_ms=wait_ms),
            row=row,
            pacer=AudioPacer(self.output_rate, lead_ms=self.config.pacer_lead_ms),
        )
        self._current = turn
        self._reply_task = self._spawn(self._answer(turn), f"reply-{turn.ordinal}")
        if self.allowance is not None and self.allowance.others is not None:
            self._spawn(self.allowance.refresh(), f"allowance-{turn.ordinal}")

    async def _answer(self, turn: _Turn) -> None:
        state = await self._stt.result(turn.utterance)
        turn.waterfall.mark("stt_final")
        text = state.text
        self.emit(
            {
                "type": "transcript.final",
                "utterance": turn.utterance,
                "text": text,
                "turn": turn.ordinal,
            }
        )
        clauses: asyncio.Queue[_Clause | None] = asyncio.Queue(CLAUSE_QUEUE)
        async with asyncio.TaskGroup() as group:
            group.create_task(self._speak(turn, clauses))
            group.create_task(self._play(turn))
            if state.error is not None:
                self._report("stt", state.error)
                await self._apologise(turn, clauses)
                await clauses.put(None)
            elif not text:
                turn.recorded = True  # nothing was understood: no turn, back to listening
                await clauses.put(None)
            else:
                self._record_user(turn, text)
                await self._think(turn, text, clauses)
        self._record(turn, turn.pacer.playback(self._clock()), interrupted=False)
        self.turns.reply_finished()
        if turn.limit_notice and self.allowance is not None:
            self.end_reason = END_REASON
            self.emit(self.allowance.exhausted_event())
            self.finished.set()

    async def _think(self, turn: _Turn, text: str, clauses: asyncio.Queue[_Clause | None]) -> None:
        request = BrainRequest(
            bot=self.bot,
            user_text=text,
            history=tuple(self._history[:-1]),
            conversation_id=self.stored.conversation_id if self.stored else None,
            channel="voice",
        )
        splitter = ClauseSplitter()
        spoken_chars = 0

        async def hand_over(clause: str) -> None:
            nonlocal spoken_chars
            if spoken_chars >= self.config.max_turn_chars:
                return
            spoken_chars += len(clause)
            turn.waterfall.mark("first_clause")
            await clauses.put(_Clause(clause))

        for attempt in (1, 2):
            try:
                async for event in self.engines.brain.reply(request):
                    match event:
                        case TextDelta(text=delta) if delta:
                            turn.waterfall.mark("llm_first_token")
                            turn.text.append(delta)
                            self.emit(
                                {"type": "assistant.delta", "turn": turn.ordinal, "text": delta}
                            )
                            for clause in splitter.feed(delta):
                                await hand_over(clause)
                        case ReplyDone():
                            turn.done = event
                break
            except ProviderError as exc:
                if exc.category == "transient" and attempt == 1 and not turn.text:
                    continue  # nothing was said yet, so a retry cannot repeat speech
                self._report("llm", exc)
                await self._apologise(turn, clauses)
                splitter = ClauseSplitter()
                break
            except Exception:
                _log.exception("the brain failed")
                self._report_code("llm", "brain_failed", "the answer could not be produced")
                await self._apologise(turn, clauses)
                splitter = ClauseSplitter()
                break
        for clause in splitter.flush():
            await hand_over(clause)
        full = turn.done.text if turn.done and turn.done.text else "".join(turn.text)
        self.emit({"type": "assistant.done", "turn": turn.ordinal, "text": full})
        await clauses.put(None)

    async def _apologise(self, turn: _Turn, clauses: asyncio.Queue[_Clause | None]) -> None:
        turn.waterfall.mark("first_clause")
        await clauses.put(_Clause(APOLOGY, apology=True))

    async def _speak(self, turn: _Turn, clauses: asyncio.Queue[_Clause | None]) -> None:
        while (clause := await clauses.get()) is not None:
            if self._allowance_spent(turn):
                await self._say_limit_notice(turn)  # once; the rest of the answer goes unsaid
                continue
            if turn.tts_failed and not clause.apology:
                continue
            fallback = self.engines.fallback_tts
            tts = fallback if clause.apology and fallback is not None else self.engines.tts
            turn.pacer.begin_clause(clause.text)
            try:
                await self._synthesize(turn, tts, clause.text)
            except ProviderError as exc:
                self._report("tts", exc)
                if turn.tts_failed or clause.apology:
                    continue
                turn.tts_failed = True
                if fallback is not None:
                    turn.pacer.begin_clause(APOLOGY)
                    with contextlib.suppress(ProviderError):
                        await self._synthesize(turn, fallback, APOLOGY)
        if self._allowance_spent(turn):
            await self._say_limit_notice(turn)
        turn.pacer.close()
        turn.wake.set()

    def _allowance_spent(self, turn: _Turn) -> bool:
        """Whether the plan's voice time runs out with what this turn has spoken so far."""
        allowance = self.allowance
        if allowance is None or turn.recorded:  # recorded already: nothing of it is billed
            return False
        return allowance.spent(speech_seconds(turn.row) + turn.pushed_samples / self.output_rate)

    async def _say_limit_notice(self, turn: _Turn) -> None:
        # Per turn: if a barge-in cut the notice off, the next turn says it (and only it).
        assert self.allowance is not None
        if turn.limit_notice:
            return
        turn.limit_notice = True
        notice = self.allowance.notice
        self.emit({"type": "notice", "code": QUOTA_EXCEEDED, "turn": turn.ordinal, "text": notice})
        turn.pacer.begin_clause(notice)
        try:
            await self._synthesize(turn, self.engines.tts, notice)
        except ProviderError as exc:
            self._report("tts", exc)
            if self.engines.fallback_tts is not None:
                with contextlib.suppress(ProviderError):
                    await self._synthesize(turn, self.engines.fallback_tts, notice)
        turn.pacer.close()  # the reply ends with the notice, even if the brain still writes
        turn.wake.set()

    async def _synthesize(self, turn: _Turn, tts: TextToSpeech, text: str) -> None:
        produced = False
        for attempt in (1, 2):
            try:
                async for chunk in tts.synthesize(
                    text, sample_rate=self.output_rate, options=self.config.voice
                ):
                    if not chunk:
                        continue
                    produced = True
                    turn.waterfall.mark("tts_first_byte")
                    turn.pacer.push(chunk)
                    turn.pushed_samples += len(chunk) // 2
                    turn.wake.set()
                return
            except ProviderError as exc:
                if exc.category == "transient" and attempt == 1 and not produced:
                    continue
                raise

    async def _play(self, turn: _Turn) -> None:
        pacer = turn.pacer
        while True:
            now = self._clock()
            frames = pacer.poll(now)
            if frames:
                if not turn.audio_started:
                    turn.audio_started = True
                    self.turns.reply_speaking()
                    self.emit(
                        {
                            "type": "audio.start",
                            "turn": turn.ordinal,
                            "sample_rate": self.output_rate,
                        }
                    )
                # The frames due together go in one message: a third of the socket writes.
                self._enqueue(("audio", b"".join(frames), turn))
            if pacer.drained:
                break
            due = pacer.next_due(now)
            if due is None:
                turn.wake.clear()
                await turn.wake.wait()
            else:
                await asyncio.sleep(due - now)
        if turn.audio_started:
            end = pacer.finished_playing(self._clock())
            if end is not None:
                await asyncio.sleep(max(0.0, end - self._clock()))
            self.emit({"type": "audio.end", "turn": turn.ordinal})

    # -- interruption and records -----------------------------------------------------------

    def _interrupt(self, *, notify: bool) -> None:
        """Barge-in (or disconnect): stop the reply in flight and record what was heard."""
        turn, task = self._current, self._reply_task
        if turn is None or turn.recorded:
            return
        playback = turn.pacer.stop(self._clock())
        if task is not None:
            task.cancel()
        self.turns.reply_finished()
        if notify:
            self.emit(
                {
                    "type": "interrupted",
                    "turn": turn.ordinal,
                    "played_text": playback.text,
                    "played_ms": round(duration_ms(playback.played_samples * 2, self.output_rate)),
                }
            )
        self._record(turn, playback, interrupted=True)

    def _record_user(self, turn: _Turn, text: str) -> None:
        self._history.append(ChatMessage("user", text))
        stored = self.stored
        if stored is None:
            return

        async def write() -> None:
            turn.row.user_message_id = await self.engines.store.add_message(
                self.bot.tenant_id, stored.conversation_id, "user", text
            )

        self._persist(write)

    def _record(self, turn: _Turn, playback: Playback, *, interrupted: bool) -> None:
        if turn.recorded:
            return
        turn.recorded = True
        said = playback.text if interrupted else (playback.text or "".join(turn.text))
        if said:
            self._history.append(ChatMessage("assistant", said))
        row = turn.row
        for stage, value in turn.waterfall.marks.items():
            setattr(row, f"{stage}_ms", value)
        row.total_ms = turn.waterfall.total_ms
        row.interrupted = interrupted
        row.played_ms = duration_ms(playback.played_samples * 2, self.output_rate)
        if self.allowance is not None:
            self.allowance.charge(row)
        self.emit(turn.waterfall.as_event(turn.ordinal))
        if self.engines.metrics is not None:
            self.engines.metrics.observe(turn.waterfall, interrupted=interrupted)
        stored, done = self.stored, turn.done

        async def write() -> None:
            assert stored is not None
            if said or interrupted:
                row.assistant_message_id = await self.engines.store.add_message(
                    self.bot.tenant_id,
                    stored.conversation_id,
                    "assistant",
                    said,
                    interrupted=interrupted,
                    tokens_in=done.tokens_in if done else None,
                    tokens_out=done.tokens_out if done else None,
                    # The brain's verdict, for analytics' unanswered questions (None if cut off).
                    answered=done.answered if done and not interrupted else None,
                )
            await self.engines.store.add_turn(self.bot.tenant_id, stored.session_id, row)

        if stored is not None:
            self._persist(write)

    # -- persistence and errors -------------------------------------------------------------

    def _persist(self, job: Callable[[], Awaitable[None]]) -> None:
        self._dbq.put_nowait(job)

    async def _persistence_worker(self) -> None:
        while True:
            job = await self._dbq.get()
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.exception("voice persistence failed")
                self._report_code(
                    "storage", "storage_failed", "the conversation could not be saved"
                )
            finally:
                self._dbq.task_done()

    def _report(self, stage: str, exc: ProviderError) -> None:
        _log.warning("voice %s failed: %s", stage, exc)
        self._report_code(stage, exc.code, f"{stage} failed ({exc.provider}): {exc.detail}")

    def _report_code(self, stage: str, code: str, message: str) -> None:
        if self.engines.metrics is not None:
            self.engines.metrics.errors.labels(stage, code).inc()
        self.emit(error_event(code, message, stage=stage))
