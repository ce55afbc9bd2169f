"""Voice activity: classify frames, and cut the stream into utterances and STT chunks.

Sans-I/O: :class:`UtteranceSegmenter` is fed 16 kHz mono frames with their stream time (ms from
the start of the session's audio, computed from sample counts, never from a clock) and returns
events. While the user speaks, every inner pause of ``chunk_pause_ms`` cuts a chunk that can be
transcribed at once, so that at the end of the turn only the last chunk is left for STT.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import webrtcvad  # type: ignore[import-untyped]

from voice_server.voice.audio import PIPELINE_RATE
from voice_server.voice.policies import EndOfTurnPolicy


class FrameClassifier(Protocol):
    def is_speech(self, frame: bytes) -> bool: ...


class WebRtcVad:
    """webrtcvad on 16 kHz mono PCM16 frames of 10, 20 or 30 ms, with an energy gate.

    webrtcvad smooths its decisions with a hangover: it goes on reporting speech for 80-160 ms
    after the voice stops, even over digital silence, and every one of those milliseconds is
    added to the caller's wait for the reply. So a frame is speech only if webrtcvad says so
    *and* it is louder than both ``gate`` times the running level of this voice and 1.4 times
    (+3 dB: the voice at least as strong as the noise) the line's noise floor, the running
    level of the frames webrtcvad calls silence.
    The hangover frames, as quiet as the line, then count as the silence they are.
    """

    def __init__(self, aggressiveness: int, gate: float = 0.1) -> None:
        self._vad = webrtcvad.Vad(aggressiveness)
        self._gate = gate
        self._voice = 0.0  # running RMS of voiced frames
        self._floor: float | None = None  # running RMS of the frames webrtcvad calls silence

    def is_speech(self, frame: bytes) -> bool:
        voiced = bool(self._vad.is_speech(frame, PIPELINE_RATE))  # keeps its state in step
        if self._gate <= 0:
            return voiced
        samples = np.frombuffer(frame, dtype="<i2").astype(np.float32)
        # dot, not mean: numpy's reductions cost more in call overhead than in arithmetic here.
        rms = math.sqrt(float(samples.dot(samples)) / samples.size) if samples.size else 0.0
        if not voiced:
            self._floor = rms if self._floor is None else 0.95 * self._floor + 0.05 * rms
            return False
        if rms < max(self._gate * self._voice, 1.4 * (self._floor or 0.0)):
            return False
        self._voice = rms if self._voice == 0.0 else 0.9 * self._voice + 0.1 * rms
        return True


@dataclass(frozen=True)
class SegmenterConfig:
    frame_ms: int = 20
    speech_start_ms: int = 60
    min_utterance_ms: int = 200
    pre_roll_ms: int = 200
    chunk_pause_ms: int = 200


@dataclass(frozen=True)
class SpeechStarted:
    utterance: int
    at_ms: float  # stream time of the first voiced frame


@dataclass(frozen=True)
class SpeechProgress:
    utterance: int
    at_ms: float
    voiced_ms: float  # voiced audio in this utterance so far


@dataclass(frozen=True)
class SpeechChunk:
    """Audio of one piece of an utterance; ``final`` marks the piece that ends it."""

    utterance: int
    index: int
    pcm: bytes
    start_ms: float
    end_ms: float
    final: bool = False


@dataclass(frozen=True)
class SpeechEnded:
    utterance: int
    started_ms: float
    ended_ms: float  # stream time at the end of the last voiced frame
    decided_ms: float  # stream time at which the end of turn was decided
    voiced_ms: float
    rule: str = "silence"  # the end-of-turn evidence that decided it


@dataclass(frozen=True)
class UtteranceDropped:
    """Speech too short to be a turn (a cough, a click); chunks already sent can be ignored."""

    utterance: int
    voiced_ms: float


VadEvent = SpeechStarted | SpeechProgress | SpeechChunk | SpeechEnded | UtteranceDropped


class UtteranceSegmenter:
    def __init__(
        self, config: SegmenterConfig, classifier: FrameClassifier, end_of_turn: EndOfTurnPolicy
    ) -> None:
        self.config = config
        self._classifier = classifier
        self._end_of_turn = end_of_turn
        self._pre_roll: deque[bytes] = deque(maxlen=max(1, config.pre_roll_ms // config.frame_ms))
        self._candidate: list[bytes] = []  # voiced run not yet long enough to count
        self._gap: deque[bytes] = deque(maxlen=max(1, 100 // config.frame_ms))
        self._utterance = -1
        self._speaking = False
        self._chunk: list[bytes] = []
        self._chunk_start_ms = 0.0
        self._chunk_index = 0
        self._chunk_voiced = False
        self._started_ms = 0.0
        self._last_voiced_end_ms = 0.0
        self._voiced_ms = 0.0
        self._silence_ms = 0.0
        self._hint = ""  # latest partial transcript, for transcript-aware policies
        self._hint_chunk = -1  # chunks cut when it came: it covers speech up to that cut

    @property
    def hint(self) -> str:
        return self._hint

    @hint.setter
    def hint(self, text: str) -> None:
        self._hint, self._hint_chunk = text, self._chunk_index

    def _fresh_hint(self) -> str:
        """The hint if it covers all the speech so far, else "": a policy must not judge a
        sentence by a transcript that stops before its last words (STT still busy)."""
        if self._hint_chunk == self._chunk_index and not self._chunk_voiced:
            return self._hint
        return ""

    @property
    def speaking(self) -> bool:
        return self._speaking

    def feed(self, frame: bytes, at_ms: float) -> list[VadEvent]:
        voiced = self._classifier.is_speech(frame)
        if not self._speaking:
            return self._idle(frame, at_ms, voiced)
        return self._in_speech(frame, at_ms, voiced)

    def _idle(self, frame: bytes, at_ms: float, voiced: bool) -> list[VadEvent]:
        cfg = self.config
        if not voiced:
            if self._candidate:
                self._pre_roll.extend(self._candidate)
                self._candidate = []
            self._pre_roll.append(frame)
            return []
        self._candidate.append(frame)
        if len(self._candidate) * cfg.frame_ms < cfg.speech_start_ms:
            return []
        voiced_ms = len(self._candidate) * cfg.frame_ms
        self._utterance += 1
        self._speaking = True
        self._started_ms = at_ms + cfg.frame_ms - voiced_ms
        pre = list(self._pre_roll)
        self._chunk = pre + self._candidate
        self._chunk_start_ms = self._started_ms - len(pre) * cfg.frame_ms
        self._chunk_index = 0
        self._chunk_voiced = True
        self._voiced_ms = voiced_ms
        self._silence_ms = 0.0
        self._last_voiced_end_ms = at_ms + cfg.frame_ms
        self._candidate = []
        self._pre_roll.clear()
        self._gap.clear()
        self.hint = ""
        self._hint_chunk = -1
        return [
            SpeechStarted(self._utterance, self._started_ms),
            SpeechProgress(self._utterance, at_ms, self._voiced_ms),
        ]

    def _in_speech(self, frame: bytes, at_ms: float, voiced: bool) -> list[VadEvent]:
        cfg = self.config
        events: list[VadEvent] = []
        end_ms = at_ms + cfg.frame_ms
        if voiced:
            if not self._chunk:
                # Speech resumes after a cut: lead the new chunk with a little of the pause.
                self._chunk = list(self._gap)
                self._chunk_start_ms = at_ms - len(self._gap) * cfg.frame_ms
            self._gap.clear()
            self._chunk.append(frame)
            self._chunk_voiced = True
            self._voiced_ms += cfg.frame_ms
            self._silence_ms = 0.0
            self._last_voiced_end_ms = end_ms
            return [SpeechProgress(self._utterance, at_ms, self._voiced_ms)]
        self._silence_ms += cfg.frame_ms
        if self._end_of_turn.turn_ended(self._silence_ms, self._voiced_ms, self._fresh_hint()):
            return self._finish(end_ms, getattr(self._end_of_turn, "rule", "") or "silence")
        if self._chunk_voiced:
            self._chunk.append(frame)
            if self._silence_ms >= cfg.chunk_pause_ms:
                events.append(self._cut(end_ms, final=False))
        else:
            self._gap.append(frame)
        return events

    def _cut(self, end_ms: float, *, final: bool) -> SpeechChunk:
        chunk = SpeechChunk(
            self._utterance,
            self._chunk_index,
            b"".join(self._chunk),
            self._chunk_start_ms,
            end_ms,
            final=final,
        )
        self._chunk_index += 1
        self._chunk = []
        self._chunk_voiced = False
        self._chunk_start_ms = end_ms
        return chunk

    def _finish(self, decided_ms: float, rule: str) -> list[VadEvent]:
        self._speaking = False
        utterance, voiced = self._utterance, self._voiced_ms
        if voiced < self.config.min_utterance_ms:
            self._chunk = []
            return [UtteranceDropped(utterance, voiced)]
        # The last chunk holds only what was said since the last inner pause; it may be empty.
        if not self._chunk_voiced:
            self._chunk = []
        final = self._cut(self._last_voiced_end_ms if self._chunk else decided_ms, final=True)
        ended = SpeechEnded(
            utterance, self._started_ms, self._last_voiced_end_ms, decided_ms, voiced, rule
        )
        return [final, ended]

    def flush(self, at_ms: float) -> list[VadEvent]:
        """End of the audio stream: close an utterance in progress as if silence followed."""
        if not self._speaking:
            return []
        return self._finish(at_ms, "end_of_audio")
