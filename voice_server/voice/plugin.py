"""What the voice pipeline contributes to the app (see voice_server.plugin).

The ``brain`` dependency (history + retrieval + language model) comes from ``rag``'s plugin;
the speech providers from ``voice_server.voice.providers.factory`` (or ``providers_factory``).
"""

from __future__ import annotations

from voice_server.plugin import PackagePlugin
from voice_server.runtime import provide
from voice_server.settings import Settings
from voice_server.voice.rest import VoiceController
from voice_server.voice.services import VOICE, ProvidersFactory, lifespan
from voice_server.voice.webrtc import WEBRTC, WebRtcController
from voice_server.voice.webrtc import lifespan as webrtc_lifespan
from voice_server.voice.ws import voice_socket


def plugin(settings: Settings, providers_factory: ProvidersFactory | None = None) -> PackagePlugin:
    return PackagePlugin(
        name="voice",
        route_handlers=[voice_socket, VoiceController, WebRtcController],
        dependencies={
            "voice_services": provide(VOICE),
            "webrtc_peers": provide(WEBRTC),
        },
        # WebRTC's calls end (and are stored) before the voice services stop.
        lifespans=[lifespan(settings, providers_factory), webrtc_lifespan(settings)],
    )
