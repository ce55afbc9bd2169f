"""Fixtures of the voice integration tests: a server with in-test providers and brain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID

import pytest
from litestar import Litestar

from tests.integration.voice.harness import eventually, voice_app, voice_client
from tests.support.server import serve_app
from tests.support.tenants import create_tenant
from tests.unit.voice.fakes import EchoBrain, ScriptedStt, ToneTts
from voice_server.runtime import Runtime
from voice_server.settings import Settings
from voice_server.voice.services import VOICE, Providers, VoiceServices

__all__ = ["VoiceServer", "eventually", "voice_client"]


@dataclass
class VoiceServer:
    url: str
    app: Litestar
    bot_id: UUID
    tenant_id: UUID
    stt: ScriptedStt
    tts: ToneTts
    brain: EchoBrain

    @property
    def services(self) -> VoiceServices:
        runtime: Runtime = self.app.state.runtime
        return runtime.get(VOICE)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/v1/voice/ws"


@pytest.fixture
async def voice_server(settings: Settings, database_url: str) -> AsyncIterator[VoiceServer]:
    tenant = await create_tenant(database_url)
    stt, tts, brain = ScriptedStt(), ToneTts(), EchoBrain()
    app = voice_app(settings, brain, Providers(stt=stt, tts=tts, fallback_tts=ToneTts()))
    async with serve_app(app) as url:
        yield VoiceServer(url, app, tenant.bot_id, tenant.tenant_id, stt, tts, brain)
