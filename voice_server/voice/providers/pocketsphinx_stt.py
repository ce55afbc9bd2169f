"""Offline speech-to-text: pocketsphinx with the en-US model bundled in its wheel.

Decoding is CPU-bound and pocketsphinx holds the GIL while it decodes (seconds for a long
utterance), so a worker *thread* would stall the event loop and every other session with it.
Decoding therefore runs in a small pool of worker processes owned by the provider, one decoder
per process, loaded once (about half a second) when the process starts. Concurrent calls
beyond the pool size queue up. A crashed worker process is replaced on the next call.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Final, TypeVar

import numpy as np
from pocketsphinx import Decoder  # type: ignore[import-untyped]

from voice_server.voice.providers._pcm import resample, seconds
from voice_server.voice.providers.base import ProviderBadRequest, ProviderUnavailable, Transcript
from voice_server.voice.providers.health import ProviderHealth, probe

NAME: Final = "pocketsphinx"
T = TypeVar("T")
MODEL_RATE: Final = 16_000  # the bundled acoustic model's sample rate
# Digital silence (runs of exact zeros, as synthesized or padded audio has) upsets pocketsphinx's
# features; noise far below a microphone's own floor (about -78 dBFS) avoids that, deterministic.
_DITHER_AMPLITUDE: Final = 4
# The decoder recognises the first and last words far better with some silence around them,
# and VAD chunks are cut tight.
_EDGE_SILENCE: Final = b"\0\0" * (MODEL_RATE * 3 // 10)


def _dither(pcm16: bytes) -> bytes:
    samples = np.frombuffer(pcm16, dtype="<i2").astype(np.int32)
    noise = np.random.default_rng(0).integers(
        -_DITHER_AMPLITUDE, _DITHER_AMPLITUDE + 1, size=samples.size
    )
    return np.clip(samples + noise, -32768, 32767).astype("<i2").tobytes()


# The decoder of this worker process (set by _start_worker; unused in the server process).
_worker_decoder: Decoder | None = None


def _start_worker() -> None:
    global _worker_decoder
    _worker_decoder = Decoder(loglevel="FATAL")


def _decode(pcm16: bytes, sample_rate: int) -> str:  # in a worker process
    decoder = _worker_decoder
    if decoder is None:
        raise RuntimeError("worker process has no decoder")
    audio = pcm16 if sample_rate == MODEL_RATE else resample(pcm16, sample_rate, MODEL_RATE)
    decoder.start_utt()
    try:
        decoder.process_raw(
            _dither(_EDGE_SILENCE + audio + _EDGE_SILENCE), no_search=False, full_utt=True
        )
    finally:
        decoder.end_utt()
    hypothesis = decoder.hyp()
    return hypothesis.hypstr if hypothesis is not None else ""


def _ready() -> bool:  # in a worker process
    return _worker_decoder is not None


class PocketsphinxSTT:
    """:class:`~voice_server.voice.providers.base.SpeechToText` with pocketsphinx, offline.

    English only (the bundled model); another language is refused as a bad request.
    """

    name = NAME

    def __init__(self, *, workers: int = 2) -> None:
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False

    def _executor(self) -> ProcessPoolExecutor:
        if self._closed:
            raise ProviderUnavailable(NAME, "provider closed")
        if self._pool is None:
            # spawn, not fork: forking a process that runs an event loop and threads is unsafe.
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
            )
        return self._pool

    async def _run(self, function: Callable[..., T], *args: object) -> T:
        pool = self._executor()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, function, *args)
        except BrokenProcessPool as exc:
            # A worker died (killed, out of memory): start a fresh pool on the next call.
            if self._pool is pool:
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
            raise ProviderUnavailable(NAME, "decoder process died") from exc
        except RuntimeError as exc:  # pocketsphinx reports model and decode failures so
            raise ProviderUnavailable(NAME, str(exc)) from exc

    async def transcribe(
        self, pcm16: bytes, sample_rate: int, *, language: str | None = None
    ) -> Transcript:
        if language and not language.lower().startswith("en"):
            raise ProviderBadRequest(NAME, f"only English is available offline, not {language!r}")
        if len(pcm16) % 2:
            raise ProviderBadRequest(NAME, "PCM16 audio must have an even number of bytes")
        if not 8_000 <= sample_rate <= 192_000:
            raise ProviderBadRequest(NAME, f"unsupported sample rate {sample_rate}")
        if self._closed:
            raise ProviderUnavailable(NAME, "provider closed")
        duration = seconds(pcm16, sample_rate)
        if not pcm16:
            return Transcript(text="", language="en", audio_seconds=0.0)
        text = await self._run(_decode, pcm16, sample_rate)
        return Transcript(text=text, language="en", audio_seconds=duration)

    async def check(self) -> ProviderHealth:
        """Starts a worker process, which loads the model."""
        return await probe("stt", NAME, self._load, local=True, timeout_s=60.0)

    async def _load(self) -> None:
        await self._run(_ready)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            # Running decodes finish (they cannot be interrupted); queued ones are dropped.
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
