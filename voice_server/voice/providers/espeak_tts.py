"""Offline text-to-speech: eSpeak NG (the library bundled by ``espeakng-loader``) through ctypes.

eSpeak NG keeps its whole state (voice, rate, pitch, the synth callback) in C globals, so one
process has exactly one engine: :func:`_engine` loads it once and a lock lets one synthesis run
at a time. It runs far faster than real time (a sentence in milliseconds), so each synthesis
holds the lock only while eSpeak computes, never while a real-time consumer drains the audio:
chunks go from eSpeak's callback (worker thread) straight to an asyncio queue. That queue is
bounded by the text, whose length is capped.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import threading
from collections.abc import AsyncIterator, Callable
from typing import Final

import espeakng_loader  # type: ignore[import-untyped]

from voice_server.voice.providers._pcm import PcmResampler
from voice_server.voice.providers.base import ProviderBadRequest, ProviderUnavailable, VoiceOptions
from voice_server.voice.providers.health import ProviderHealth, probe

NAME: Final = "espeak"
DEFAULT_VOICE: Final = "en-us+klatt"  # pocketsphinx also understands this variant best
MAX_TEXT_CHARS: Final = 20_000
NORMAL_RATE_WPM: Final = 175  # eSpeak's default speaking rate
NORMAL_PITCH: Final = 50  # eSpeak's default pitch, on its 0-100 scale

# espeak_ng/speak_lib.h
_AUDIO_OUTPUT_SYNCHRONOUS: Final = 2
_INITIALIZE_DONT_EXIT: Final = 0x8000
_POS_CHARACTER: Final = 1
_CHARS_UTF8: Final = 1
_PARAM_RATE: Final = 1
_PARAM_PITCH: Final = 3
_BUFFER_MS: Final = 60  # audio per callback: small, so that the first bytes come early


class _VoiceProperties(ctypes.Structure):  # espeak_VOICE
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class _Engine:
    """The process's eSpeak NG library, initialised once; :meth:`speak` is serialised."""

    def __init__(self) -> None:
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetVoiceByProperties.argtypes = [ctypes.POINTER(_VoiceProperties)]
        lib.espeak_SetVoiceByProperties.restype = ctypes.c_int
        lib.espeak_GetCurrentVoice.argtypes = []
        lib.espeak_GetCurrentVoice.restype = ctypes.POINTER(_VoiceProperties)
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        data_path = espeakng_loader.get_data_path().encode()
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, _BUFFER_MS, data_path, _INITIALIZE_DONT_EXIT
        )
        if rate <= 0:
            raise OSError(f"espeak_Initialize failed ({rate})")
        self.sample_rate: int = rate
        self._lib = lib
        self._lock = threading.Lock()
        self._sink: Callable[[bytes], bool] | None = None
        # ctypes must keep the callback object alive as long as eSpeak may call it.
        self._callback = _SynthCallback(self._on_audio)
        lib.espeak_SetSynthCallback(self._callback)

    def _on_audio(self, wav: ctypes._Pointer[ctypes.c_short], samples: int, _events: int) -> int:
        # Called by eSpeak inside espeak_Synth, on the thread that called it. 1 aborts.
        sink = self._sink
        if sink is None:
            return 1
        if not wav or samples <= 0:
            return 0
        try:
            return 0 if sink(ctypes.string_at(wav, samples * 2)) else 1
        except Exception:  # an exception cannot cross the C boundary: stop instead
            return 1

    def _set_voice(self, voice: str) -> bool:
        # A voice name ("en-us", "en+f3", "gmw/en"), else a language tag ("en-gb", "pt-br").
        if self._lib.espeak_SetVoiceByName(voice.encode("utf-8")) == 0:
            return True
        tag = voice.lower()
        wanted = _VoiceProperties(languages=tag.encode("utf-8"))
        if self._lib.espeak_SetVoiceByProperties(ctypes.byref(wanted)) != 0:
            return False
        # eSpeak settles for its nearest voice; accept it only for the same language.
        current = self._lib.espeak_GetCurrentVoice().contents
        languages = (current.languages or b"")[1:].decode("utf-8", "replace")  # [0]: priority
        return languages.split("-")[0] == tag.split("-")[0]

    def speak(
        self, text: str, *, voice: str, rate_wpm: int, pitch: int, sink: Callable[[bytes], bool]
    ) -> None:
        """Synthesize ``text``; ``sink`` gets each PCM16 chunk at :attr:`sample_rate` and
        returns False to stop. Blocks until done: call it from a worker thread."""
        encoded = text.encode("utf-8")
        with self._lock:
            if not self._set_voice(voice):
                raise ProviderBadRequest(NAME, f"unknown eSpeak NG voice {voice!r}")
            self._lib.espeak_SetParameter(_PARAM_RATE, rate_wpm, 0)
            self._lib.espeak_SetParameter(_PARAM_PITCH, pitch, 0)
            self._sink = sink
            try:
                status = self._lib.espeak_Synth(
                    encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
                )
            finally:
                self._sink = None
        # EE_OK is 0; an abort requested by the sink is not an error.
        if status not in (0, 1):
            raise ProviderUnavailable(NAME, f"espeak_Synth failed ({status})")


@functools.cache
def _engine() -> _Engine:
    # One per process on purpose: the C library has a single global state (see module doc).
    return _Engine()


def engine_sample_rate() -> int:
    """eSpeak NG's native output rate (22050 Hz); loads the library on first use."""
    return _engine().sample_rate


_END: Final = object()


class EspeakTTS:
    """:class:`~voice_server.voice.providers.base.TextToSpeech` with eSpeak NG, offline.

    ``VoiceOptions.voice`` is an eSpeak voice name (``en-us``, ``en-gb+f3``, ``de``...); when
    unset, ``default_voice`` for English and the language code for other languages. Speed scales
    eSpeak's 175 words per minute (80-450), pitch its 0-100 scale around 50.
    """

    name = NAME

    def __init__(self, *, default_voice: str | None = None) -> None:
        self.default_voice = default_voice or DEFAULT_VOICE

    def voice_for(self, options: VoiceOptions) -> str:
        if options.voice:
            return options.voice
        if options.language.lower().startswith("en"):
            return self.default_voice
        return options.language.lower()

    async def synthesize(
        self, text: str, *, sample_rate: int, options: VoiceOptions
    ) -> AsyncIterator[bytes]:
        if len(text) > MAX_TEXT_CHARS:
            raise ProviderBadRequest(NAME, f"text longer than {MAX_TEXT_CHARS} characters")
        if not text.strip():
            return
        voice = self.voice_for(options)
        rate_wpm = max(80, min(450, round(NORMAL_RATE_WPM * options.speed)))
        pitch = max(0, min(100, round(NORMAL_PITCH * options.pitch)))
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[bytes | object] = asyncio.Queue()
        stopped = threading.Event()

        def emit(pcm: bytes) -> None:
            if pcm:
                loop.call_soon_threadsafe(chunks.put_nowait, pcm)

        def work() -> None:  # worker thread
            try:
                engine = _engine()
                resampler = PcmResampler(engine.sample_rate, sample_rate)

                def sink(raw: bytes) -> bool:
                    if stopped.is_set():
                        return False
                    emit(resampler.feed(raw))
                    return True

                engine.speak(text, voice=voice, rate_wpm=rate_wpm, pitch=pitch, sink=sink)
                if not stopped.is_set():
                    emit(resampler.flush())
            finally:
                loop.call_soon_threadsafe(chunks.put_nowait, _END)

        worker = asyncio.ensure_future(asyncio.to_thread(work))
        try:
            while (chunk := await chunks.get()) is not _END:
                assert isinstance(chunk, bytes)
                yield chunk
            await worker  # raises what the worker raised
        except OSError as exc:
            raise ProviderUnavailable(NAME, f"eSpeak NG cannot start: {exc}") from exc
        finally:
            # The consumer may stop early (barge-in): tell eSpeak to abort, then wait for the
            # thread so that nothing keeps running after the stream is closed.
            stopped.set()
            with contextlib.suppress(Exception):
                await asyncio.shield(worker)

    async def check(self) -> ProviderHealth:
        """Loads the library and its data."""
        return await probe("tts", NAME, self._load, local=True)

    async def _load(self) -> None:
        try:
            await asyncio.to_thread(_engine)
        except OSError as exc:
            raise ProviderUnavailable(NAME, f"eSpeak NG cannot start: {exc}") from exc

    async def aclose(self) -> None:
        return None
