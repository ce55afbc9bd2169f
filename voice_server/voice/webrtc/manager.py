"""The app's WebRTC peer connections: created from an offer, found by id, closed and awaited.

One :class:`PeerManager` per app, created in the voice plugin's lifespan and injected with
``Provide`` (never a module global). It owns one task per call (:meth:`Peer.run`); closing a
call, or the server, stops the call, awaits its task and so closes its RTCPeerConnection. Every
connection it ever created is also kept in a weak set, so :attr:`live_connections` counts the
ones not closed yet — the leak check of the tests and the ``webrtc_peer_connections`` figure.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from aiortc import RTCPeerConnection, RTCSessionDescription
from litestar import Litestar

from voice_server.errors import ServiceUnavailable
from voice_server.metrics import Metrics
from voice_server.runtime import Slot, runtime_of
from voice_server.settings import Settings
from voice_server.voice.webrtc.errors import BadOffer, PeersExhausted, UnknownPeer
from voice_server.voice.webrtc.network import NetworkConfig, gather_only_on
from voice_server.voice.webrtc.peer import CallContext, Peer, PeerTimeouts
from voice_server.voice.webrtc.sdp import TrickledCandidate, advertise_host, check_offer

_log = logging.getLogger("parley.voice.webrtc")

CLOSE_TIMEOUT_S = 10.0  # a call's teardown (storing it included) before its task is cancelled


class WebRtcMetrics:
    """What the reply tracks did, added up as each call ends (nothing on the audio path)."""

    def __init__(self, metrics: Metrics) -> None:
        self.reply_frames = metrics.counter(
            "parley_webrtc_reply_frames_total",
            "20 ms frames the WebRTC reply tracks sent, by content (reply audio or silence).",
            ["content"],
        )
        self.late_frames = metrics.counter(
            "parley_webrtc_late_reply_frames_total",
            "Reply-audio frames a track handed out more than one frame behind its clock.",
        )
        self.underruns = metrics.counter(
            "parley_webrtc_reply_underruns_total",
            "Frames of silence sent while a reply was still being spoken (the pipeline was late).",
        )
        self.calls = metrics.counter(
            "parley_webrtc_calls_total", "WebRTC calls ended, by reason.", ["reason"]
        )

    def call_ended(self, peer: Peer) -> None:
        buffer = peer.track.buffer
        self.reply_frames.labels("audio").inc(buffer.audio_frames_out)
        self.reply_frames.labels("silence").inc(buffer.frames_out - buffer.audio_frames_out)
        self.late_frames.inc(peer.track.late_frames)
        self.underruns.inc(buffer.underruns)
        self.calls.labels(peer.stop_reason or "unknown").inc()


class PeerManager:
    def __init__(
        self,
        network: NetworkConfig,
        *,
        max_peers: int = 200,
        timeouts: PeerTimeouts | None = None,
        metrics: WebRtcMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.network = network
        self.metrics = metrics
        self.max_peers = max_peers
        self.timeouts = timeouts or PeerTimeouts()
        self._clock = clock
        self._peers: dict[str, Peer] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._created: weakref.WeakSet[RTCPeerConnection] = weakref.WeakSet()
        self._closing = False

    @property
    def peers(self) -> dict[str, Peer]:
        return dict(self._peers)

    @property
    def live_connections(self) -> int:
        """RTCPeerConnections created and not closed yet (0 once every call has ended)."""
        return sum(1 for pc in list(self._created) if pc.connectionState != "closed")

    def live_tasks(self) -> set[asyncio.Task[None]]:
        return {task for task in self._tasks.values() if not task.done()}

    async def open(self, offer_sdp: str, call: CallContext) -> tuple[Peer, str]:
        """Answer ``offer_sdp`` for ``call``: the peer (its id is random and unguessable) and
        the answer SDP, with every host candidate gathered (aiortc does not trickle)."""
        if self._closing:
            raise ServiceUnavailable("the server is shutting down")
        if len(self._peers) >= self.max_peers:
            raise PeersExhausted(f"this server holds its maximum of {self.max_peers} calls")
        check_offer(offer_sdp)
        peer_id = secrets.token_urlsafe(24)
        pc = RTCPeerConnection(self.network.rtc_configuration())
        self._created.add(pc)
        peer = Peer(peer_id, pc, call, self.timeouts, self._clock)
        try:
            try:
                await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
            except ValueError as exc:
                raise BadOffer(f"the offer cannot be used: {exc}") from None
            pc.addTrack(peer.track)
            await pc.setLocalDescription(await pc.createAnswer())
        except BaseException:
            await pc.close()
            raise
        answer = pc.localDescription.sdp
        if self.network.host_address:
            answer = advertise_host(answer, self.network.host_address)
        self._peers[peer_id] = peer
        self._tasks[peer_id] = asyncio.create_task(self._run(peer), name=f"webrtc-{peer_id[:8]}")
        return peer, answer

    def get(self, peer_id: str) -> Peer:
        peer = self._peers.get(peer_id)
        if peer is None:
            raise UnknownPeer("no such peer connection on this server")
        return peer

    async def add_candidates(self, peer_id: str, candidates: list[TrickledCandidate]) -> int:
        """Trickled remote candidates; returns how many were used (mDNS ones are skipped)."""
        peer = self.get(peer_id)
        used = 0
        for item in candidates:
            if item.skipped:
                continue
            try:
                await peer.pc.addIceCandidate(item.candidate)
            except ValueError as exc:
                raise BadOffer(f"the ICE candidate cannot be used: {exc}") from None
            used += 1
        return used

    async def close(self, peer_id: str, reason: str = "client_deleted") -> None:
        """End the call and wait until it is stored and its connection closed."""
        self.get(peer_id).stop(reason)
        task = self._tasks.get(peer_id)
        if task is not None:
            await self._await(task)

    async def shutdown(self) -> None:
        self._closing = True
        for peer in list(self._peers.values()):
            peer.stop("server_shutdown")
        for task in list(self._tasks.values()):
            await self._await(task)

    async def _await(self, task: asyncio.Task[None]) -> None:
        done, _ = await asyncio.wait((task,), timeout=CLOSE_TIMEOUT_S)
        if not done:
            task.cancel()
            await asyncio.wait((task,))

    async def _run(self, peer: Peer) -> None:
        try:
            await peer.run()
        except asyncio.CancelledError:
            await peer.pc.close()  # the connection never outlives its call
            raise
        finally:
            self._peers.pop(peer.id, None)
            self._tasks.pop(peer.id, None)
            if self.metrics is not None:
                self.metrics.call_ended(peer)


WEBRTC: Slot[PeerManager] = Slot(
    "webrtc", "the WebRTC service is starting or stopping; retry shortly"
)


def lifespan(settings: Settings) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def webrtc_lifespan(app: Litestar) -> AsyncIterator[None]:
        runtime = runtime_of(app)
        network = NetworkConfig.from_settings(settings)
        manager = PeerManager(
            network,
            max_peers=settings.webrtc_max_peers,
            timeouts=PeerTimeouts(idle_s=settings.webrtc_idle_timeout_s),
            metrics=WebRtcMetrics(runtime.metrics),
        )
        with gather_only_on(network.interfaces), runtime.holding(WEBRTC, manager):
            try:
                yield
            finally:
                await manager.shutdown()

    return webrtc_lifespan
