"""The turn engine: one reply, from the user's words to paced audio.

:class:`TurnRunner` runs brain → clause splitter → TTS → pacer for a turn, three tasks of the
turn's own group: the brain's text is cut into clauses as it streams, each clause is
synthesized while the one before it plays. Transient vendor errors (:class:`ProviderError`,
the one tree for speech and language models) are retried once when a retry cannot repeat
speech; anything else gets a spoken apology, in the offline voice if the TTS vendor is the
one that failed. The :class:`TurnBudget` stops a reply when the plan's voice time runs out,
with the limit notice in its place. What the listener heard is recorded, cut or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from voice_server.brain import BotProfile, Brain, Citation, ReplyDone, TextDelta
from voice_server.turns import ask
from voice_server.voice.allowance import QUOTA_EXCEEDED
from voice_server.voice.audio import duration_ms
from voice_server.voice.clauses import ClauseSplitter
from voice_server.voice.config import VoiceConfig
from voice_server.voice.engine.budget import TurnBudget
from voice_server.voice.engine.clock import Clock, SystemClock
from voice_server.voice.engine.outbox import Outbox
from voice_server.voice.engine.playout import play_out, synthesize_notice
from voice_server.voice.engine.recorder import Recorder
from voice_server.voice.pacer import AudioPacer, Playback
from voice_server.voice.protocol import (
    AssistantDelta,
    AssistantDone,
    AudioEnd,
    AudioStart,
    Interrupted,
    Notice,
    TranscriptFinal,
    TurnMetrics,
    error_event,
)
from voice_server.voice.providers.base import ProviderError, SpeechToText, TextToSpeech
from voice_server.voice.recordings import CallRecordings
from voice_server.voice.store import TurnRow, VoiceStore
from voice_server.voice.transcriber import Transcription
from voice_server.voice.turn import TurnController
from voice_server.voice.waterfall import STAGES, VoiceMetrics, Waterfall

_log = logging.getLogger("parley.voice")

APOLOGY = "Sorry, something went wrong on my side. Please try again."
CLAUSE_QUEUE = 16


@dataclass
class Engines:
    """What a session talks to. ``fallback_tts`` speaks the apology when the TTS vendor fails."""

    stt: SpeechToText
    tts: TextToSpeech
    brain: Brain
    store: VoiceStore
    metrics: VoiceMetrics | None = None
    fallback_tts: TextToSpeech | None = None
    clock: Clock = field(default_factory=SystemClock)
    recordings: CallRecordings | None = None  # calls of bots that record them


@dataclass(frozen=True)
class _Clause:
    text: str
    apology: bool = False


Clauses = asyncio.Queue[_Clause | None]


@dataclass
class ReplyTurn:
    ordinal: int
    utterance: int | None  # None: the bot speaks first (the greeting)
    waterfall: Waterfall
    row: TurnRow
    pacer: AudioPacer
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    text: list[str] = field(default_factory=list)
    done: ReplyDone | None = None
    citations: list[Citation] = field(default_factory=list)  # stored with the reply
    audio_started: bool = False
    recorded: bool = False
    interrupted: bool = False
    tts_failed: bool = False
    pushed_samples: int = 0
    limit_notice: bool = False  # the turn ends with the plan's limit notice, then the session

    def audio_sent(self) -> None:
        self.waterfall.mark("first_audio")


class TurnRunner:
    def __init__(
        self,
        engines: Engines,
        config: VoiceConfig,
        bot: BotProfile,
        *,
        output_rate: int,
        outbox: Outbox,
        recorder: Recorder,
        budget: TurnBudget,
        turns: TurnController,
    ) -> None:
        self.engines = engines
        self.config = config
        self.bot = bot
        self.output_rate = output_rate
        self._out = outbox
        self._recorder = recorder
        self.budget = budget
        self._turns = turns
        self._clock = engines.clock
        self._ordinal = 0

    # -- entry points -----------------------------------------------------------------------

    def begin(
        self,
        utterance: int | None,
        *,
        spoken_ms: float = 0.0,
        wait_ms: float = 0.0,
        rule: str | None = None,
    ) -> ReplyTurn:
        """A new turn, decided now: the user spoke ``spoken_ms`` and was silent ``wait_ms``."""
        wall = self._clock.wall()
        row = TurnRow(ordinal=self._ordinal)
        if utterance is not None:  # the greeting has no user speech
            row.end_of_turn_wait_ms = wait_ms
            row.speech_started_at = wall - timedelta(milliseconds=spoken_ms + wait_ms)
            row.speech_ended_at = wall - timedelta(milliseconds=wait_ms)
        self._ordinal += 1
        return ReplyTurn(
            ordinal=row.ordinal,
            utterance=utterance,
            waterfall=Waterfall(
                self._clock.now(),
                self._clock.now,
                end_of_turn_wait_ms=wait_ms,
                end_of_turn_rule=rule if utterance is not None else None,
            ),
            row=row,
            pacer=AudioPacer(self.output_rate, lead_ms=self.config.pacer_lead_ms),
        )

    async def answer(self, turn: ReplyTurn, heard: Transcription) -> bool:
        """Answer what the user said; True when the turn spent the plan's last voice time (the
        notice was said; the session must end)."""
        turn.waterfall.mark("stt_final")
        assert turn.utterance is not None
        self._out.event(TranscriptFinal(turn.utterance, heard.text, turn.ordinal))

        async def produce(clauses: Clauses) -> None:
            if heard.error is not None:
                self.report("stt", heard.error)
                await self._apologise(turn, clauses)
            elif not heard.text:
                turn.recorded = True  # nothing was understood: no turn, back to listening
            else:
                self._recorder.user(turn.row, heard.text)
                await self._think(turn, heard.text, clauses)

        await self._run(turn, produce)
        return turn.limit_notice and self.budget.capped

    async def say(self, turn: ReplyTurn, text: str) -> None:
        """Speak ``text`` as the bot's turn, no brain involved (the greeting)."""

        self._turns.bot_turn()

        async def produce(clauses: Clauses) -> None:
            turn.text.append(text)
            self._out.event(AssistantDone(turn.ordinal, text))
            splitter = ClauseSplitter()
            for clause in [*splitter.feed(text), *splitter.flush()]:
                await clauses.put(_Clause(clause))

        await self._run(turn, produce)

    async def announce(self, code: str, text: str) -> None:
        """A notice outside any turn (the session is about to end): said once, in the bot's
        voice or the offline one, and not interruptible."""
        self._out.event(Notice(code, None, text))
        pacer = AudioPacer(self.output_rate, lead_ms=self.config.pacer_lead_ms)
        voices = (self.engines.tts, self.engines.fallback_tts)
        await synthesize_notice(pacer, voices, text, self.config.voice)
        rate = self.output_rate
        played = await play_out(
            pacer,
            self._clock,
            asyncio.Event(),
            self._out.audio,
            lambda: self._out.event(AudioStart(None, rate)),
        )
        if played:
            self._out.event(AudioEnd(None))

    def interrupt(self, turn: ReplyTurn, *, notify: bool) -> None:
        """Barge-in (or the end of the session): stop the reply and record what was heard. The
        caller cancels the turn's task."""
        if turn.recorded:
            return
        turn.interrupted = True
        playback = turn.pacer.stop(self._clock.now())
        self._out.clear_audio()
        self._turns.reply_finished()
        if notify:
            played_ms = round(duration_ms(playback.played_samples * 2, self.output_rate))
            self._out.event(Interrupted(turn.ordinal, playback.text, played_ms))
        self._record(turn, playback)

    # -- the pipeline -----------------------------------------------------------------------

    async def _run(self, turn: ReplyTurn, produce: Callable[[Clauses], Awaitable[None]]) -> None:
        clauses: Clauses = asyncio.Queue(CLAUSE_QUEUE)
        async with asyncio.TaskGroup() as group:
            group.create_task(self._speak(turn, clauses))
            group.create_task(self._play(turn))
            await produce(clauses)
            await clauses.put(None)
        self._record(turn, turn.pacer.playback(self._clock.now()))
        self._turns.reply_finished()

    async def _think(self, turn: ReplyTurn, text: str, clauses: Clauses) -> None:
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
                # The kernel's one turn entry point; the recorder keeps the history in memory.
                async for event in ask(
                    self.engines.brain,
                    self.bot,
                    text,
                    history=self._recorder.history[:-1],
                    conversation_id=self._recorder.stored.conversation_id,
                    channel="voice",
                ):
                    match event:
                        case TextDelta(text=delta) if delta:
                            turn.waterfall.mark("llm_first_token")
                            turn.text.append(delta)
                            self._out.event(AssistantDelta(turn.ordinal, delta))
                            for clause in splitter.feed(delta):
                                await hand_over(clause)
                        case Citation():
                            turn.citations.append(event)
                        case ReplyDone():
                            turn.done = event
                break
            except ProviderError as exc:
                if exc.category == "transient" and attempt == 1 and not turn.text:
                    continue  # nothing was said yet, so a retry cannot repeat speech
                self.report("llm", exc)
            except Exception:
                _log.exception("the brain failed")
                self.report_code("llm", "brain_failed", "the answer could not be produced")
            await self._apologise(turn, clauses)
            splitter = ClauseSplitter()
            break
        for clause in splitter.flush():
            await hand_over(clause)
        full = turn.done.text if turn.done and turn.done.text else "".join(turn.text)
        self._out.event(AssistantDone(turn.ordinal, full))

    async def _apologise(self, turn: ReplyTurn, clauses: Clauses) -> None:
        turn.waterfall.mark("first_clause")
        await clauses.put(_Clause(APOLOGY, apology=True))

    async def _speak(self, turn: ReplyTurn, clauses: Clauses) -> None:
        while (clause := await clauses.get()) is not None:
            if self._spent(turn):
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
                self.report("tts", exc)
                if turn.tts_failed or clause.apology:
                    continue
                turn.tts_failed = True
                if fallback is not None:
                    turn.pacer.begin_clause(APOLOGY)
                    with contextlib.suppress(ProviderError):
                        await self._synthesize(turn, fallback, APOLOGY)
        if self._spent(turn):
            await self._say_limit_notice(turn)
        turn.pacer.close()
        turn.wake.set()

    def _spent(self, turn: ReplyTurn) -> bool:
        # Recorded already: nothing more of it is billed.
        return not turn.recorded and self.budget.spent(turn.row, turn.pushed_samples)

    async def _say_limit_notice(self, turn: ReplyTurn) -> None:
        # Per turn: if a barge-in cut the notice off, the next turn says it (and only it).
        if turn.limit_notice:
            return
        turn.limit_notice = True
        notice = self.budget.notice
        self._out.event(Notice(QUOTA_EXCEEDED, turn.ordinal, notice))
        turn.pacer.begin_clause(notice)
        try:
            await self._synthesize(turn, self.engines.tts, notice)
        except ProviderError as exc:
            self.report("tts", exc)
            if self.engines.fallback_tts is not None:
                with contextlib.suppress(ProviderError):
                    await self._synthesize(turn, self.engines.fallback_tts, notice)
        turn.pacer.close()  # the reply ends with the notice, even if the brain still writes
        turn.wake.set()

    async def _synthesize(self, turn: ReplyTurn, tts: TextToSpeech, text: str) -> None:
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

    async def _play(self, turn: ReplyTurn) -> None:
        def started() -> None:
            turn.audio_started = True
            self._turns.reply_speaking()
            self._out.event(AudioStart(turn.ordinal, self.output_rate))

        def send(pcm: bytes) -> None:
            self._out.audio(pcm, turn)

        if await play_out(turn.pacer, self._clock, turn.wake, send, started):
            self._out.event(AudioEnd(turn.ordinal))

    # -- records and errors -----------------------------------------------------------------

    def _record(self, turn: ReplyTurn, playback: Playback) -> None:
        if turn.recorded:
            return
        turn.recorded = True
        said = playback.text if turn.interrupted else (playback.text or "".join(turn.text))
        row = turn.row
        for stage, value in turn.waterfall.marks.items():
            setattr(row, f"{stage}_ms", value)
        row.total_ms = turn.waterfall.total_ms
        row.interrupted = turn.interrupted
        row.played_ms = duration_ms(playback.played_samples * 2, self.output_rate)
        self.budget.charge(row)
        self._out.event(_metrics(turn))
        if self.engines.metrics is not None:
            self.engines.metrics.observe(turn.waterfall, interrupted=turn.interrupted)
        self._recorder.assistant(
            row, said, interrupted=turn.interrupted, done=turn.done, citations=turn.citations
        )

    def report(self, stage: str, exc: ProviderError) -> None:
        _log.warning("voice %s failed: %s", stage, exc)
        self.report_code(stage, exc.code, f"{stage} failed ({exc.provider}): {exc.detail}")

    def report_code(self, stage: str, code: str, message: str) -> None:
        if self.engines.metrics is not None:
            self.engines.metrics.errors.labels(stage, code).inc()
        self._out.event(error_event(code, message, stage=stage))


def _metrics(turn: ReplyTurn) -> TurnMetrics:
    marks = turn.waterfall.marks

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    stages = {f"{stage}_ms": ms(marks.get(stage)) for stage in STAGES}
    return TurnMetrics(
        turn.ordinal,
        **stages,
        total_ms=ms(turn.waterfall.total_ms),
        end_of_turn_wait_ms=ms(turn.waterfall.end_of_turn_wait_ms),
        end_of_turn_rule=turn.waterfall.end_of_turn_rule,
    )
