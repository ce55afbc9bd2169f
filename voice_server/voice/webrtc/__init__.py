"""The WebRTC transport: signalling over HTTP, Opus audio both ways through aiortc, and the
WebSocket protocol's JSON events on the ``parley`` data channel (docs/voice-protocol.md)."""

from voice_server.voice.webrtc.manager import PeerManager, lifespan, provide_peer_manager
from voice_server.voice.webrtc.routes import WebRtcController

__all__ = ["PeerManager", "WebRtcController", "lifespan", "provide_peer_manager"]
