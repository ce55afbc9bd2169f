"""Offline speech-to-text: pocketsphinx with the en-US model bundled in its wheel.

Decoding is CPU-bound, so it runs on a small thread pool owned by the provider, with one
decoder per thread (a decoder is not safe to share, and loading one takes a good half second,
so each thread keeps its own). Concurrent calls beyond the pool size queue up.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import numpy as np
from pocketsphinx import Decoder  # type: ignore[import-untyped]

from voice_server.voice.providers._pcm import resample, seconds
from voice_server.voice.providers.base import ProviderBadRequest, ProviderUnavailable, Transcript
from voice_server.voice.providers.health import ProviderHealth, probe

NAME: Final = "pocketsphinx"
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


class PocketsphinxSTT:
    """:class:`~voice_server.voice.providers.base.SpeechToText` with pocketsphinx, offline.

    English only (the bundled model); another language is refused as a bad request.
    """

    name = NAME

    def __init__(self, *, workers: int = 2) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pocketsphinx")
        self._local = threading.local()
        self._closed = False

    def _decoder(self) -> Decoder:
        decoder: Decoder | None = getattr(self._local, "decoder", None)
        if decoder is None:
            decoder = Decoder(loglevel="FATAL")
            self._local.decoder = decoder
        return decoder

    def _decode(self, pcm16: bytes, sample_rate: int) -> str:  # worker thread
        audio = pcm16 if sample_rate == MODEL_RATE else resample(pcm16, sample_rate, MODEL_RATE)
        decoder = self._decoder()
        decoder.start_utt()
        try:
            decoder.process_raw(
                _dither(_EDGE_SILENCE + audio + _EDGE_SILENCE), no_search=False, full_utt=True
            )
        finally:
            decoder.end_utt()
        hypothesis = decoder.hyp()
        return hypothesis.hypstr if hypothesis is not None else ""

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
        loop = asyncio.get_running_loop()
        try:
            text = await loop.run_in_executor(self._executor, self._decode, pcm16, sample_rate)
        except RuntimeError as exc:  # pocketsphinx reports model and decode failures so
            raise ProviderUnavailable(NAME, str(exc)) from exc
        return Transcript(text=text, language="en", audio_seconds=duration)

    async def check(self) -> ProviderHealth:
        """Loads a decoder (the model files) on the pool."""
        return await probe("stt", NAME, self._load_decoder, local=True, timeout_s=30.0)

    async def _load_decoder(self) -> None:
        if self._closed:
            raise ProviderUnavailable(NAME, "provider closed")
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._decoder)
        except (RuntimeError, OSError) as exc:
            raise ProviderUnavailable(NAME, f"model cannot load: {exc}") from exc

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Running decodes finish (they cannot be interrupted); queued ones are dropped.
        await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)
