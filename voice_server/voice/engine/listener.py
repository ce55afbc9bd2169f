"""The listening half of a session, sans-I/O except for STT: client audio → 16 kHz frames →
VAD → turn events, with the chunks transcribed while the user still speaks.

The VAD and both turn-taking policies are injected (:class:`TurnTaking`), one set per session
since they keep state; :meth:`TurnTaking.from_config` builds the default ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from voice_server.voice.audio import InputNormaliser
from voice_server.voice.config import VoiceConfig
from voice_server.voice.endpointing import EvidenceEndOfTurn
from voice_server.voice.policies import (
    BargeInPolicy,
    EndOfTurnPolicy,
    MinSpeechBargeIn,
    SilenceEndOfTurn,
)
from voice_server.voice.providers.base import SpeechToText
from voice_server.voice.silero import SileroVad
from voice_server.voice.transcriber import ChunkTranscriber, TranscriberOverflow
from voice_server.voice.turn import TranscribeChunk, TurnController, TurnEvent, UtteranceIgnored
from voice_server.voice.vad import FrameClassifier, UtteranceSegmenter, WebRtcVad


class SessionOverflow(Exception):
    """The client does not read fast enough (or STT cannot keep up); the session cannot go on."""


@dataclass
class TurnTaking:
    """Who decides what is speech, when a turn ends and when speech interrupts the bot."""

    vad: FrameClassifier
    end_of_turn: EndOfTurnPolicy
    barge_in: BargeInPolicy

    @classmethod
    def from_config(cls, config: VoiceConfig) -> TurnTaking:
        vad: FrameClassifier = (
            SileroVad(config.silero_threshold)
            if config.vad == "silero"
            else WebRtcVad(config.vad_aggressiveness)
        )
        end_of_turn: EndOfTurnPolicy = SilenceEndOfTurn(config.end_of_turn_silence_ms)
        if config.end_of_turn == "evidence":
            hold = max(config.end_of_turn_hold_ms, config.end_of_turn_silence_ms)
            open_ms = min(config.end_of_turn_open_ms, config.end_of_turn_complete_ms)
            end_of_turn = EvidenceEndOfTurn(
                open_ms=open_ms,
                complete_ms=min(config.end_of_turn_complete_ms, hold),
                # With no transcript yet, wait as long as the plain silence policy would.
                unknown_ms=max(open_ms, config.end_of_turn_silence_ms),
                hold_ms=hold,
            )
        return cls(vad, end_of_turn, MinSpeechBargeIn(config.barge_in_min_ms))


class Listener:
    def __init__(
        self,
        config: VoiceConfig,
        turn_taking: TurnTaking,
        stt: SpeechToText,
        *,
        input_rate: int,
        channels: int,
        on_partial: Callable[[int, str], None],
    ) -> None:
        self._frame_ms = config.frame_ms
        self._normaliser = InputNormaliser(input_rate, channels, config.frame_ms)
        self._segmenter = UtteranceSegmenter(
            config.segmenter, turn_taking.vad, turn_taking.end_of_turn
        )
        self.turns = TurnController(turn_taking.barge_in)
        self._on_partial = on_partial
        self.transcriber = ChunkTranscriber(stt, config.voice.language, self._partial)
        self._frames = 0

    def feed(self, pcm: bytes) -> list[TurnEvent]:
        events: list[TurnEvent] = []
        for frame in self._normaliser.feed(pcm):
            at_ms = self._frames * self._frame_ms
            self._frames += 1
            for vad_event in self._segmenter.feed(frame, at_ms):
                events.extend(self._handle(self.turns.feed(vad_event)))
        return events

    def flush(self) -> list[TurnEvent]:
        """No more audio: an utterance in progress ends now."""
        events: list[TurnEvent] = []
        for vad_event in self._segmenter.flush(self._frames * self._frame_ms):
            events.extend(self._handle(self.turns.feed(vad_event)))
        return events

    def _handle(self, events: list[TurnEvent]) -> list[TurnEvent]:
        # STT work is this module's own business; the rest goes to the session.
        for event in events:
            if isinstance(event, TranscribeChunk):
                try:
                    self.transcriber.submit(event.chunk)
                except TranscriberOverflow as exc:
                    raise SessionOverflow(str(exc)) from None
            elif isinstance(event, UtteranceIgnored):
                self.transcriber.forget(event.utterance)
        return [e for e in events if not isinstance(e, TranscribeChunk)]

    def _partial(self, utterance: int, text: str) -> None:
        self._segmenter.hint = self.turns.hint = text
        self._on_partial(utterance, text)
