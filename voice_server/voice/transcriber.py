"""VAD-chunked streaming STT: transcribe an utterance's chunks while the user still speaks.

Chunks of one session go through one worker in order, so the transcript of an utterance is
its chunks' texts joined, and it is complete once its final chunk is done. At the end of the
turn only the last chunk (often empty: the last inner pause already cut it) is left to do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from voice_server.voice.audio import PIPELINE_RATE
from voice_server.voice.providers.base import ProviderError, SpeechToText
from voice_server.voice.vad import SpeechChunk

QUEUE_SIZE = 64


class TranscriberOverflow(Exception):
    """Speech recognition does not keep up with the speech."""


@dataclass
class Transcription:
    parts: list[str] = field(default_factory=list)
    error: ProviderError | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def text(self) -> str:
        return " ".join(p for p in self.parts if p).strip()


class ChunkTranscriber:
    def __init__(
        self,
        stt: SpeechToText,
        language: str | None,
        on_partial: Callable[[int, str], None],
    ) -> None:
        self._stt = stt
        self._language = language
        self._on_partial = on_partial
        self._queue: asyncio.Queue[SpeechChunk] = asyncio.Queue(QUEUE_SIZE)
        self._utterances: dict[int, Transcription] = {}

    def submit(self, chunk: SpeechChunk) -> None:
        self._utterances.setdefault(chunk.utterance, Transcription())
        try:
            self._queue.put_nowait(chunk)
        except asyncio.QueueFull:
            raise TranscriberOverflow("speech recognition is not keeping up") from None

    def forget(self, utterance: int) -> None:
        self._utterances.pop(utterance, None)

    async def result(self, utterance: int) -> Transcription:
        """The utterance's transcription once its final chunk is done (check ``error``)."""
        state = self._utterances.setdefault(utterance, Transcription())
        await state.done.wait()
        self._utterances.pop(utterance, None)
        return state

    async def run(self) -> None:
        while True:
            chunk = await self._queue.get()
            state = self._utterances.setdefault(chunk.utterance, Transcription())
            if chunk.pcm and state.error is None:
                try:
                    text = (await self._transcribe(chunk.pcm)).strip()
                except ProviderError as exc:
                    state.error = exc
                else:
                    state.parts.append(text)
                    if text and not chunk.final:
                        self._on_partial(chunk.utterance, state.text)
            if chunk.final:
                state.done.set()

    async def _transcribe(self, pcm: bytes) -> str:
        try:
            result = await self._stt.transcribe(pcm, PIPELINE_RATE, language=self._language)
        except ProviderError as exc:
            if exc.category != "transient":
                raise
            # Transcribing twice cannot duplicate speech: one bounded retry.
            await asyncio.sleep(min(getattr(exc, "retry_after_s", None) or 0.2, 1.0))
            result = await self._stt.transcribe(pcm, PIPELINE_RATE, language=self._language)
        return result.text
