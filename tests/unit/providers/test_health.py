from __future__ import annotations

from voice_server.voice.providers.espeak_tts import EspeakTTS
from voice_server.voice.providers.health import check_provider, check_providers
from voice_server.voice.providers.pocketsphinx_stt import PocketsphinxSTT


async def test_offline_engines_report_healthy_and_local() -> None:
    stt = PocketsphinxSTT(workers=1)
    try:
        results = await check_providers(stt, EspeakTTS())
    finally:
        await stt.aclose()
    assert [(h.capability, h.provider, h.ok, h.local) for h in results] == [
        ("stt", "pocketsphinx", True, True),
        ("tts", "espeak", True, True),
    ]
    assert results[0].to_dict()["error"] is None


async def test_a_closed_engine_reports_unavailable() -> None:
    stt = PocketsphinxSTT(workers=1)
    await stt.aclose()
    health = await stt.check()
    assert not health.ok
    assert health.error == "provider_unavailable"


async def test_a_provider_without_probe_counts_as_active() -> None:
    class Plain:
        name = "plain"

    health = await check_provider("tts", Plain())
    assert (health.provider, health.ok) == ("plain", True)
