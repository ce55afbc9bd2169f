"""The REST voice endpoints on the whole app with its offline providers."""

from __future__ import annotations

import asyncio
import base64
import io
import wave
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings
from tests.integration.voice.test_offline_conversation import speech_wav
from tests.support.server import serve_app
from tests.support.tenants import create_tenant
from voice_server.app import create_app
from voice_server.voice.codecs import decode, encode


@pytest.fixture
async def keys(database_url: str) -> dict[str, str]:
    return (await create_tenant(database_url)).secret_headers


def pcm_of(wav_bytes: bytes) -> tuple[bytes, int]:
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        return wav.readframes(wav.getnframes()), wav.getframerate()


@pytest.mark.parametrize("fmt", ["wav", "mp3", "ogg"])
async def test_transcribe_takes_common_audio_files(
    http: httpx.AsyncClient, keys: dict[str, str], fmt: str
) -> None:
    pcm, rate = pcm_of(await speech_wav("what are your opening hours", 16_000))
    body = await asyncio.to_thread(encode, pcm, rate, fmt)  # type: ignore[arg-type]
    response = await http.post(
        "/v1/voice/transcribe", content=body, headers={**keys, "Content-Type": f"audio/{fmt}"}
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert "hours" in result["text"].split()
    assert result["audio_seconds"] == pytest.approx(len(pcm) / 2 / rate, abs=0.1)
    assert result["provider"] == "pocketsphinx"


async def test_transcribe_takes_a_multipart_upload(
    http: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    wav = await speech_wav("what are your opening hours", 16_000)
    response = await http.post(
        "/v1/voice/transcribe", files={"file": ("q.wav", wav, "audio/wav")}, headers=keys
    )
    assert response.status_code == 200, response.text
    assert "hours" in response.json()["text"].split()


async def test_an_upload_that_is_not_audio_is_a_415_problem(
    http: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    response = await http.post(
        "/v1/voice/transcribe", content=b"%PDF-1.7 definitely not audio", headers=keys
    )
    assert response.status_code == 415
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("/unsupported-media-type")


async def test_audio_longer_than_the_limit_is_a_413_problem(
    tmp_path: Path, database_url: str, keys: dict[str, str]
) -> None:
    settings = make_settings(tmp_path, database_url=database_url, voice_max_upload_seconds=1)
    wav = await speech_wav("this sentence takes well over one second to say out loud", 16_000)
    async with (
        serve_app(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        response = await client.post("/v1/voice/transcribe", content=wav, headers=keys)
    assert response.status_code == 413
    assert "1 seconds" in response.json()["detail"]


async def test_voice_endpoints_need_credentials(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/voice/speak", json={"text": "hello"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("fmt", "media_type"), [("wav", "audio/wav"), ("mp3", "audio/mpeg"), ("ogg", "audio/ogg")]
)
async def test_speak_answers_a_playable_file(
    http: httpx.AsyncClient, keys: dict[str, str], fmt: str, media_type: str
) -> None:
    response = await http.post(
        "/v1/voice/speak", json={"text": "Hello and welcome.", "format": fmt}, headers=keys
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(media_type)
    audio = await asyncio.to_thread(decode, response.content, max_seconds=30)
    assert 0.5 < audio.seconds < 5


async def test_speak_refuses_empty_text(http: httpx.AsyncClient, keys: dict[str, str]) -> None:
    response = await http.post("/v1/voice/speak", json={"text": "   "}, headers=keys)
    assert response.status_code == 400


async def test_health_names_the_active_providers(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/voice/health")
    assert response.status_code == 200
    body = response.json()
    assert (body["stt"]["provider"], body["tts"]["provider"]) == ("pocketsphinx", "espeak")
    assert body["ok"] is True


async def test_chat_is_one_spoken_turn(http: httpx.AsyncClient, database_url: str) -> None:
    tenant = await create_tenant(database_url)
    wav = await speech_wav("what are your opening hours", 16_000)
    response = await http.post(
        "/v1/voice/chat",
        params={"bot_id": str(tenant.bot_id), "format": "mp3"},
        content=wav,
        headers=tenant.secret_headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "hours" in body["transcript"].split()
    assert body["reply"]
    audio = decode(base64.b64decode(body["audio_base64"]), max_seconds=120)
    assert audio.seconds > 0.5


async def test_chat_with_another_tenants_bot_is_404(
    http: httpx.AsyncClient, database_url: str
) -> None:
    mine = await create_tenant(database_url)
    theirs = await create_tenant(database_url, name="Other")
    wav = await speech_wav("hello", 16_000)
    response = await http.post(
        "/v1/voice/chat",
        params={"bot_id": str(theirs.bot_id)},
        content=wav,
        headers=mine.secret_headers,
    )
    assert response.status_code == 404


async def test_speak_honours_the_speed(http: httpx.AsyncClient, keys: dict[str, str]) -> None:
    text = "Our opening hours are from nine to six on weekdays."
    seconds = []
    for speed in (1.0, 2.0):
        response = await http.post(
            "/v1/voice/speak", json={"text": text, "speed": speed}, headers=keys
        )
        assert response.status_code == 200, response.text
        seconds.append((await asyncio.to_thread(decode, response.content, max_seconds=30)).seconds)
    assert seconds[1] < seconds[0] * 0.75
    bad = await http.post("/v1/voice/speak", json={"text": text, "speed": 9}, headers=keys)
    assert bad.status_code == 400
