"""Choose the speech providers from settings.

``auto`` (the default) picks the cloud vendor whose key is set and the offline engine otherwise,
so that a server with no keys still holds a whole conversation. An explicit provider wins; an
explicit cloud provider without its key is a configuration error, reported at start-up.
"""

from __future__ import annotations

from voice_server.settings import Settings, SettingsError
from voice_server.voice.providers.base import SpeechToText, TextToSpeech
from voice_server.voice.providers.deepgram_tts import DeepgramTTS
from voice_server.voice.providers.espeak_tts import EspeakTTS
from voice_server.voice.providers.groq_stt import GroqSTT
from voice_server.voice.providers.pocketsphinx_stt import PocketsphinxSTT


def stt_provider_name(settings: Settings) -> str:
    if settings.stt_provider != "auto":
        return settings.stt_provider
    return "groq" if settings.groq_api_key is not None else "pocketsphinx"


def tts_provider_name(settings: Settings) -> str:
    if settings.tts_provider != "auto":
        return settings.tts_provider
    return "deepgram" if settings.deepgram_api_key is not None else "espeak"


def build_stt(settings: Settings) -> SpeechToText:
    """The configured speech-to-text provider. Raises SettingsError when it cannot be built."""
    name = stt_provider_name(settings)
    if name == "groq":
        if settings.groq_api_key is None:
            raise SettingsError("PARLEY_STT_PROVIDER=groq needs GROQ_API_KEY")
        return GroqSTT(
            api_key=settings.groq_api_key.get_secret_value(),
            base_url=settings.groq_base_url,
            model=settings.stt_model,
            language=settings.stt_language,
            timeout_s=settings.stt_timeout_s,
        )
    return PocketsphinxSTT(workers=settings.stt_offline_workers)


def build_tts(settings: Settings) -> TextToSpeech:
    """The configured text-to-speech provider. Raises SettingsError when it cannot be built."""
    name = tts_provider_name(settings)
    if name == "deepgram":
        if settings.deepgram_api_key is None:
            raise SettingsError("PARLEY_TTS_PROVIDER=deepgram needs DEEPGRAM_API_KEY")
        return DeepgramTTS(
            api_key=settings.deepgram_api_key.get_secret_value(),
            base_url=settings.deepgram_base_url,
            default_voice=settings.tts_voice,
            timeout_s=settings.tts_timeout_s,
        )
    return build_fallback_tts(settings)


def build_fallback_tts(settings: Settings) -> TextToSpeech:
    """eSpeak NG: the default, and the fallback voice when the TTS vendor is down."""
    voice = settings.tts_voice if tts_provider_name(settings) == "espeak" else None
    return EspeakTTS(default_voice=voice)
