"""The WebRTC transport: signalling over HTTP, Opus audio both ways through aiortc, and the
WebSocket protocol's JSON events on the ``parley`` data channel (docs/voice-protocol.md)."""

from voice_server.voice.webrtc.manager import WEBRTC, PeerManager, lifespan
from voice_server.voice.webrtc.routes import WebRtcController

__all__ = ["WEBRTC", "PeerManager", "WebRtcController", "lifespan"]
