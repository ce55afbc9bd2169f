"""Offline speech-to-text: pocketsphinx with the en-US model bundled in its wheel.

Decoding is CPU-bound and pocketsphinx holds the GIL while it decodes (seconds for a long
utterance), so a worker *thread* would stall the event loop and every session with it. Each
decoder therefore lives in a worker process of its own (``_sphinx_worker``), started on first
use (the model takes about half a second to load) and kept; the provider owns at most
``workers`` of them, and calls beyond that wait for a free one. Plain subprocesses over pipes
rather than multiprocessing: nothing depends on how the main module was started.

A worker that dies is dropped and a fresh one starts on the next call. A call cancelled in the
middle of a decode kills its worker (the answer would arrive out of step otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Final

from voice_server.voice.providers._pcm import seconds
from voice_server.voice.providers._sphinx_worker import HEADER, LENGTH
from voice_server.voice.providers.base import ProviderBadRequest, ProviderUnavailable, Transcript
from voice_server.voice.providers.health import ProviderHealth, probe

NAME: Final = "pocketsphinx"
_WORKER_MODULE: Final = "voice_server.voice.providers._sphinx_worker"


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            _WORKER_MODULE,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        worker = cls(process)
        try:
            assert process.stdout is not None
            if await process.stdout.readexactly(1) != b"R":
                raise ProviderUnavailable(NAME, "decoder process sent no ready signal")
        except BaseException:
            await worker.kill()
            raise
        return worker

    async def decode(self, pcm16: bytes, sample_rate: int) -> str:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None
        assert stdout is not None
        stdin.write(HEADER.pack(sample_rate, len(pcm16)) + pcm16)
        await stdin.drain()
        status = await stdout.readexactly(1)
        (size,) = LENGTH.unpack(await stdout.readexactly(LENGTH.size))
        message = (await stdout.readexactly(size)).decode("utf-8")
        if status != b"0":
            raise ProviderUnavailable(NAME, f"decode failed: {message}")
        return message

    async def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), timeout=2.0)
        except TimeoutError:
            await self.kill()

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        await self.process.wait()


class PocketsphinxSTT:
    """:class:`~voice_server.voice.providers.base.SpeechToText` with pocketsphinx, offline.

    English only (the bundled model); another language is refused as a bad request.
    """

    name = NAME

    def __init__(self, *, workers: int = 2) -> None:
        self._idle: list[_Worker] = []
        self._slots = asyncio.Semaphore(workers)
        self._closed = False

    async def _decode(self, pcm16: bytes, sample_rate: int) -> str:
        async with self._slots:
            if self._closed:
                raise ProviderUnavailable(NAME, "provider closed")
            worker = self._idle.pop() if self._idle else await _start_worker()
            try:
                text = await worker.decode(pcm16, sample_rate)
            except ProviderUnavailable:
                await self._release(worker)  # the worker answered: it is still in step
                raise
            except (OSError, asyncio.IncompleteReadError) as exc:
                await worker.kill()
                raise ProviderUnavailable(NAME, "decoder process died") from exc
            except BaseException:  # cancelled mid-decode: its answer would come out of step
                await asyncio.shield(worker.kill())
                raise
            await self._release(worker)
            return text

    async def _release(self, worker: _Worker) -> None:
        if self._closed:  # closed while this call decoded: the worker ends with it
            await worker.stop()
        else:
            self._idle.append(worker)

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
        text = await self._decode(pcm16, sample_rate)
        return Transcript(text=text, language="en", audio_seconds=duration)

    async def check(self) -> ProviderHealth:
        """Starts a decoder process (the model loads) unless one is already idle."""
        return await probe("stt", NAME, self._warm, local=True, timeout_s=60.0)

    async def _warm(self) -> None:
        async with self._slots:
            if self._closed:
                raise ProviderUnavailable(NAME, "provider closed")
            if not self._idle:
                self._idle.append(await _start_worker())

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        idle, self._idle = self._idle, []
        await asyncio.gather(*(worker.stop() for worker in idle))


async def _start_worker() -> _Worker:
    try:
        return await _Worker.start()
    except (OSError, asyncio.IncompleteReadError) as exc:
        raise ProviderUnavailable(NAME, f"decoder process cannot start: {exc}") from exc
