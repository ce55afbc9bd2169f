"""The WebRTC transport's errors, as subclasses of Parley's tree (HTTP mapping happens once, in
voice_server.problems).

    BadOffer           400  the SDP offer cannot start a call (or a candidate cannot be used)
    UnknownPeer        404  no peer connection with that id on this server
    PeersExhausted     503  the server holds its maximum of peer connections
"""

from __future__ import annotations

from voice_server.errors import InvalidInput, NotFound, ServiceUnavailable


class BadOffer(InvalidInput):
    slug = "bad-sdp"
    title = "Unusable SDP or ICE candidate"


class UnknownPeer(NotFound):
    slug = "unknown-peer-connection"
    title = "Unknown peer connection"


class PeersExhausted(ServiceUnavailable):
    slug = "webrtc-busy"
    title = "No room for another WebRTC call"
