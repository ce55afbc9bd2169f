"""The turn-taking state machine: listening → user speaking → thinking → bot speaking → listening.

Sans-I/O: fed the segmenter's events and the pipeline's progress (``reply_speaking``,
``reply_finished``), it decides which audio goes to STT, when a user turn ends, and when user
speech while the bot thinks or speaks is a barge-in (the :class:`BargeInPolicy` decides; speech
that never qualifies, a cough, is ignored and its chunks are never transcribed).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from voice_server.voice.policies import BargeInPolicy
from voice_server.voice.vad import (
    SpeechChunk,
    SpeechEnded,
    SpeechProgress,
    SpeechStarted,
    UtteranceDropped,
    VadEvent,
)


class TurnState(enum.Enum):
    LISTENING = "listening"
    USER_SPEAKING = "user_speaking"
    THINKING = "thinking"
    BOT_SPEAKING = "bot_speaking"


@dataclass(frozen=True)
class UserSpeechStarted:
    utterance: int
    at_ms: float


@dataclass(frozen=True)
class TranscribeChunk:
    chunk: SpeechChunk


@dataclass(frozen=True)
class BargeIn:
    utterance: int
    at_ms: float


@dataclass(frozen=True)
class UserTurnEnded:
    utterance: int
    started_ms: float
    ended_ms: float
    decided_ms: float
    rule: str = "silence"  # which end-of-turn evidence decided it


@dataclass(frozen=True)
class UtteranceIgnored:
    utterance: int


TurnEvent = UserSpeechStarted | TranscribeChunk | BargeIn | UserTurnEnded | UtteranceIgnored


class TurnController:
    def __init__(self, barge_in: BargeInPolicy) -> None:
        self._barge_in = barge_in
        self.state = TurnState.LISTENING
        self._owned: int | None = None  # the utterance that is the user's current turn
        self._pending: int | None = None  # speech over the bot that may become a barge-in
        self._held: list[SpeechChunk] = []
        self.hint = ""

    def feed(self, event: VadEvent) -> list[TurnEvent]:
        match event:
            case SpeechStarted(utterance=u, at_ms=at):
                if self.state is TurnState.LISTENING:
                    self.state = TurnState.USER_SPEAKING
                    self._owned = u
                    return [UserSpeechStarted(u, at)]
                self._pending, self._held = u, []
                return []
            case SpeechProgress(utterance=u, at_ms=at, voiced_ms=voiced):
                if u == self._pending and self._barge_in.interrupts(voiced, self.hint):
                    self.state = TurnState.USER_SPEAKING
                    self._owned, self._pending = u, None
                    held, self._held = self._held, []
                    events: list[TurnEvent] = [BargeIn(u, at), UserSpeechStarted(u, at)]
                    return events + [TranscribeChunk(c) for c in held]
                return []
            case SpeechChunk(utterance=u):
                if u == self._owned:
                    return [TranscribeChunk(event)]
                if u == self._pending:
                    self._held.append(event)
                return []
            case SpeechEnded(utterance=u):
                if u == self._owned:
                    self.state = TurnState.THINKING
                    self._owned = None
                    return [
                        UserTurnEnded(
                            u, event.started_ms, event.ended_ms, event.decided_ms, event.rule
                        )
                    ]
                return self._forget(u)
            case UtteranceDropped(utterance=u):
                if u == self._owned:
                    self.state = TurnState.LISTENING
                    self._owned = None
                    return [UtteranceIgnored(u)]
                return self._forget(u)
        return []

    def _forget(self, utterance: int) -> list[TurnEvent]:
        if utterance == self._pending:
            self._pending, self._held = None, []
        return []

    def bot_turn(self) -> None:
        """The bot speaks first (the greeting): user speech is judged as a barge-in."""
        if self.state is TurnState.LISTENING:
            self.state = TurnState.THINKING

    def reply_speaking(self) -> None:
        if self.state is TurnState.THINKING:
            self.state = TurnState.BOT_SPEAKING

    def reply_finished(self) -> None:
        if self.state in (TurnState.THINKING, TurnState.BOT_SPEAKING):
            self.state = TurnState.LISTENING
