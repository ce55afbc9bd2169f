"""WebRTC signalling over HTTP: offer → answer, trickled candidates, hang-up.

    POST   /v1/voice/webrtc/offer        {bot_id, sdp, type: "offer"} → 201 {peer_id, sdp, type}
    PATCH  /v1/voice/webrtc/{peer_id}    {candidates: [RTCIceCandidateInit, ...]} → 200
    DELETE /v1/voice/webrtc/{peer_id}    → 204, once the call is stored and closed

The caller is the app's ``principal`` (the same credentials as the WebSocket); the peer id is
random (192 bits) and, with the caller's tenant checked again on PATCH and DELETE, is the only
handle on a call. Errors are problem documents (voice_server.problems).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from uuid import UUID

from litestar import Controller, Response, delete, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, SkipValidation

from voice_server.brain import Brain
from voice_server.errors import InvalidInput, NotFound, ServiceUnavailable, Unauthenticated
from voice_server.principal import Principal
from voice_server.voice.allowance import VoiceQuota
from voice_server.voice.services import VoiceServices
from voice_server.voice.webrtc.errors import UnknownPeer
from voice_server.voice.webrtc.manager import PeerManager
from voice_server.voice.webrtc.peer import CallContext, Peer
from voice_server.voice.webrtc.sdp import MAX_CANDIDATES_PER_REQUEST, parse_candidate


@dataclass
class OfferIn:
    bot_id: UUID
    sdp: str
    type: Literal["offer"] = "offer"


@dataclass
class AnswerOut:
    peer_id: str
    sdp: str
    type: Literal["answer"] = "answer"


@dataclass
class CandidateIn:
    candidate: str
    sdpMid: str | None = None  # the browser's RTCIceCandidateInit names
    sdpMLineIndex: int | None = None
    usernameFragment: str | None = None


@dataclass
class CandidatesIn:
    candidates: list[CandidateIn] = field(default_factory=list)


@dataclass
class CandidatesOut:
    peer_id: str
    added: int


def _own(peer: Peer, principal: Principal) -> Peer:
    # Another tenant's call answers as if it did not exist.
    if peer.call.principal.tenant_id != principal.tenant_id:
        raise UnknownPeer("no such peer connection on this server")
    return peer


class WebRtcController(Controller):
    path = "/v1/voice/webrtc"
    tags = ["voice"]

    @post("/offer", status_code=201)
    async def offer(
        self,
        data: JSONBody[OfferIn],
        voice_services: NamedDependency[VoiceServices],
        webrtc_peers: NamedDependency[SkipValidation[PeerManager]],
        principal: NamedDependency[Principal],
        brain: NamedDependency[SkipValidation[Brain | None]] = None,
        quota: NamedDependency[SkipValidation[VoiceQuota | None]] = None,
    ) -> Response[AnswerOut]:
        """Start a voice call over WebRTC: send the browser's SDP offer (with the `parley`
        data channel and the microphone track), get the answer and the call's id."""
        if principal.kind == "publishable_key":
            # A widget key is public: browsers trade it (with their Origin) for a session token.
            raise Unauthenticated(
                "a publishable key cannot open a voice call: use a session token from "
                "POST /v1/bots/{bot_id}/sessions"
            )
        bot = await voice_services.store.find_bot(data.bot_id, principal.tenant_id)
        if bot is None or not principal.may_use_bot(bot.id):
            raise NotFound(f"no bot {data.bot_id}")
        if brain is None:
            raise ServiceUnavailable("voice conversations are not available on this server")
        voice_services.require_providers()
        peer, answer = await webrtc_peers.open(
            data.sdp, CallContext(bot, principal, voice_services, brain, quota)
        )
        return Response(
            AnswerOut(peer.id, answer),
            status_code=201,
            headers={"Location": f"{self.path}/{peer.id}"},
        )

    @patch("/{peer_id:str}", status_code=200)
    async def candidates(
        self,
        peer_id: FromPath[str],
        data: JSONBody[CandidatesIn],
        webrtc_peers: NamedDependency[SkipValidation[PeerManager]],
        principal: NamedDependency[Principal],
    ) -> CandidatesOut:
        """Add the caller's trickled ICE candidates (an empty `candidate` ends them)."""
        _own(webrtc_peers.get(peer_id), principal)
        if len(data.candidates) > MAX_CANDIDATES_PER_REQUEST:
            raise InvalidInput(f"at most {MAX_CANDIDATES_PER_REQUEST} candidates per request")
        parsed = [parse_candidate(c.candidate, c.sdpMid, c.sdpMLineIndex) for c in data.candidates]
        added = await webrtc_peers.add_candidates(peer_id, parsed)
        return CandidatesOut(peer_id, added)

    @delete("/{peer_id:str}", status_code=204)
    async def hang_up(
        self,
        peer_id: FromPath[str],
        webrtc_peers: NamedDependency[SkipValidation[PeerManager]],
        principal: NamedDependency[Principal],
    ) -> None:
        """End the call; answers once it is stored and its connection closed."""
        _own(webrtc_peers.get(peer_id), principal)
        await webrtc_peers.close(peer_id)
