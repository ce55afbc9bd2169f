from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_settings
from voice_server.settings import SettingsError
from voice_server.voice.providers.deepgram_tts import DeepgramTTS
from voice_server.voice.providers.espeak_tts import DEFAULT_VOICE, EspeakTTS
from voice_server.voice.providers.factory import build_fallback_tts, build_stt, build_tts
from voice_server.voice.providers.groq_stt import GroqSTT
from voice_server.voice.providers.pocketsphinx_stt import PocketsphinxSTT


async def test_no_keys_means_offline_engines(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    stt = build_stt(settings)
    tts = build_tts(settings)
    assert isinstance(stt, PocketsphinxSTT)
    assert isinstance(tts, EspeakTTS)
    assert tts.default_voice == DEFAULT_VOICE
    await stt.aclose()


def test_configured_espeak_voice_is_the_default_voice(tmp_path: Path) -> None:
    tts = build_tts(make_settings(tmp_path, tts_voice="en+f3"))
    assert isinstance(tts, EspeakTTS)
    assert tts.default_voice == "en+f3"


def test_a_cloud_provider_without_its_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="GROQ_API_KEY"):
        build_stt(make_settings(tmp_path, stt_provider="groq"))
    with pytest.raises(SettingsError, match="DEEPGRAM_API_KEY"):
        build_tts(make_settings(tmp_path, tts_provider="deepgram"))


def test_blank_keys_count_as_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "")
    monkeypatch.setenv("DEEPGRAM_API_KEY", " ")
    settings = make_settings(tmp_path)
    assert settings.groq_api_key is None
    assert settings.deepgram_api_key is None


def test_vendor_keys_are_read_under_their_usual_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk_test")
    monkeypatch.setenv("DEEPGRAM_API_KEY", "dg_test")
    settings = make_settings(tmp_path)
    assert settings.groq_api_key is not None
    assert settings.groq_api_key.get_secret_value() == "gsk_test"
    assert "gsk_test" not in repr(settings)
    assert settings.deepgram_api_key is not None


def test_offline_tts_fallback_ignores_a_cloud_voice(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, tts_voice="aura-2-thalia-en", deepgram_api_key="k")
    fallback = build_fallback_tts(settings)
    assert isinstance(fallback, EspeakTTS)
    assert fallback.default_voice == DEFAULT_VOICE


async def test_keys_switch_on_the_cloud_vendors(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        groq_api_key="gsk_test",
        deepgram_api_key="dg_test",
        stt_model="whisper-large-v3",
        stt_language="de",
        tts_voice="aura-2-apollo-en",
    )
    stt = build_stt(settings)
    tts = build_tts(settings)
    assert isinstance(stt, GroqSTT)
    assert (stt.model, stt.language) == ("whisper-large-v3", "de")
    assert isinstance(tts, DeepgramTTS)
    assert tts.default_voice == "aura-2-apollo-en"
    await stt.aclose()
    await tts.aclose()


async def test_an_explicit_offline_provider_wins_over_keys(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        groq_api_key="gsk_test",
        deepgram_api_key="dg_test",
        stt_provider="pocketsphinx",
        tts_provider="espeak",
    )
    stt = build_stt(settings)
    assert isinstance(stt, PocketsphinxSTT)
    assert isinstance(build_tts(settings), EspeakTTS)
    await stt.aclose()
