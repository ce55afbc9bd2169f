"""WebRTC signalling over HTTP: offer → answer, trickled candidates, hang-up.

    POST   /v1/voice/webrtc/offer        {bot_id, sdp, type: "offer"} → 201 {peer_id, sdp, type}
    PATCH  /v1/voice/webrtc/{peer_id}    {candidates: [RTCIceCandidateInit, ...]} → 200
    DELETE /v1/voice/webrtc/{peer_id}    → 204, once the call is stored and closed

The offer carries the same credentials as the WebSocket, resolved by the same function
(:func:`voice_server.voice.gate.voice_principal`): a single-use session token in ``?token=``
(browsers), or a secret key or user token in ``Authorization``. The token is spent by the
offer, so PATCH and DELETE cannot present it again: as with WHIP (RFC 9725) resource URLs, the
peer id itself (192 random bits, returned only to the offerer) is what authorizes them. Errors
are problem documents (voice_server.problems).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

from litestar import Controller, Request, Response, delete, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, SkipValidation

from voice_server.brain import Brain
from voice_server.drain import ServerDraining
from voice_server.errors import InvalidInput, NotFound, ServiceUnavailable
from voice_server.runtime import VISITOR_LEASES, runtime_of
from voice_server.voice.allowance import VoiceQuota
from voice_server.voice.gate import voice_principal
from voice_server.voice.services import VoiceServices
from voice_server.voice.webrtc.manager import PeerManager
from voice_server.voice.webrtc.peer import CallContext
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


def _release_leases_later(request: Request[Any, Any, Any]) -> Callable[[], Awaitable[None]] | None:
    """A widget visitor's session slot (taken with the token) is held for the whole call, not
    just this request: the call releases it as it ends (the kernel's ``VisitorLeases``, which
    the accounts package publishes; without it there are no leases)."""
    leases = runtime_of(request.app).find(VISITOR_LEASES)
    return leases.take(request.scope) if leases is not None else None


class WebRtcController(Controller):
    path = "/v1/voice/webrtc"
    tags = ["voice"]

    @post("/offer", status_code=201)
    async def offer(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[OfferIn],
        voice_services: NamedDependency[VoiceServices],
        webrtc_peers: NamedDependency[SkipValidation[PeerManager]],
        brain: NamedDependency[SkipValidation[Brain | None]] = None,
        quota: NamedDependency[SkipValidation[VoiceQuota | None]] = None,
    ) -> Response[AnswerOut]:
        """Start a voice call over WebRTC: send the browser's SDP offer (with the `parley`
        data channel and the microphone track), get the answer and the call's id."""
        if voice_services.manager.draining:
            raise ServerDraining  # 503: the caller should try another replica
        principal = await voice_principal(request)
        on_end = _release_leases_later(request)
        try:
            tenant = principal.tenant_id if principal else None
            bot = await voice_services.store.find_bot(data.bot_id, tenant)
            if bot is None or (principal is not None and not principal.may_use_bot(bot.id)):
                raise NotFound(f"no bot {data.bot_id}")
            if brain is None:
                raise ServiceUnavailable("voice conversations are not available on this server")
            voice_services.require_providers()
            call = CallContext(bot, principal, voice_services, brain, quota, on_end)
            peer, answer = await webrtc_peers.open(data.sdp, call)
        except BaseException:
            if on_end is not None:
                await on_end()  # no call: the slot is free again
            raise
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
    ) -> CandidatesOut:
        """Add the caller's trickled ICE candidates (an empty `candidate` ends them)."""
        webrtc_peers.get(peer_id)
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
    ) -> None:
        """End the call; answers once it is stored and its connection closed."""
        await webrtc_peers.close(peer_id)
