"""The whole app (real auth, embedded PostgreSQL, offline pocketsphinx + eSpeak NG + the offline
answerer) on a real port, a tenant with a secret key, and eSpeak speech to say into the mic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from litestar import Litestar

from tests.conftest import make_settings
from tests.support.server import serve_app
from tests.support.tenants import TenantKeys, create_tenant
from voice_server.app import create_app
from voice_server.runtime import runtime_of
from voice_server.voice.providers.base import VoiceOptions
from voice_server.voice.providers.espeak_tts import EspeakTTS
from voice_server.voice.webrtc.manager import WEBRTC, PeerManager

IDLE_TIMEOUT_S = 3.0


@dataclass
class WebRtcServer:
    url: str
    app: Litestar
    tenant: TenantKeys

    @property
    def peers(self) -> PeerManager:
        return runtime_of(self.app).get(WEBRTC)

    @property
    def headers(self) -> dict[str, str]:
        return self.tenant.secret_headers


@pytest.fixture
async def webrtc_server(tmp_path: Path, database_url: str) -> AsyncIterator[WebRtcServer]:
    tenant = await create_tenant(database_url)
    settings = make_settings(
        tmp_path, database_url=database_url, webrtc_idle_timeout_s=IDLE_TIMEOUT_S
    )
    app = create_app(settings)
    async with serve_app(app) as url:
        yield WebRtcServer(url, app, tenant)


async def say(text: str, rate: int = 16_000) -> bytes:
    tts = EspeakTTS()
    try:
        return b"".join(
            [c async for c in tts.synthesize(text, sample_rate=rate, options=VoiceOptions())]
        )
    finally:
        await tts.aclose()
