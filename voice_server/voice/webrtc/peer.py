"""One caller's RTCPeerConnection and the voice session it carries.

aiortc reports what happens to a connection through synchronous callbacks (a data channel
opened, a message, a track, a state change); they only record it here (a message into a
bounded inbox, a reason to stop), and one coroutine, :meth:`Peer.run`, owned by the
:class:`~voice_server.voice.webrtc.manager.PeerManager`, does the work: wait for
``session.start`` on the ``parley`` channel, admit the session (plan check and stored row),
run the :class:`VoiceSession` with the caller's decoded audio, and tear everything down.

The call ends, and is stored, when the caller sends ``session.end`` or DELETEs the peer
connection, when ICE fails, the peer closes or its data channel closes, when nothing arrives
for the idle timeout, when the session ends itself (plan limit), or when the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiortc import RTCDataChannel, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from voice_server.brain import BotProfile, Brain
from voice_server.errors import QuotaExceeded
from voice_server.principal import Principal
from voice_server.voice.allowance import VoiceQuota
from voice_server.voice.audio import PIPELINE_RATE
from voice_server.voice.calls import Admission, admit, open_session, refuse
from voice_server.voice.protocol import ProtocolViolation, ServerEvent, SessionEnd, encode
from voice_server.voice.protocol import error_event as error
from voice_server.voice.records import Resume
from voice_server.voice.resume import ResumeRefused
from voice_server.voice.services import VoiceServices
from voice_server.voice.session import SessionOverflow, VoiceSession
from voice_server.voice.webrtc.channel import (
    CHANNEL_LABEL,
    ChannelGone,
    WebRtcTransport,
    parse_message,
    send_text,
)
from voice_server.voice.webrtc.inbound import CallerAudio
from voice_server.voice.webrtc.reply_track import REPLY_RATE, ReplyTrack

_log = logging.getLogger("parley.voice.webrtc")

MAX_INBOX = 64  # messages waiting to be read; a client that floods the channel loses the rest
MAX_ERRORS_IN_A_ROW = 20
DRAIN_TIMEOUT_S = 1.0  # for the last events (session.ended) to leave before the connection closes
# The peer's own end of the call: nothing can be sent to it any more.
CLIENT_GONE = frozenset({"peer_closed", "ice_failed", "data_channel_closed", "idle_timeout"})


@dataclass(frozen=True)
class CallContext:
    """Who called, for which bot, and what the session talks to (checked at the offer)."""

    bot: BotProfile
    principal: Principal | None  # None: an anonymous development call (voice_allow_anonymous)
    services: VoiceServices
    brain: Brain
    quota: VoiceQuota | None = None
    # Runs once the call has ended (the accounts package frees a widget visitor's slot).
    on_end: Callable[[], Awaitable[None]] | None = None


@dataclass(frozen=True)
class PeerTimeouts:
    start_s: float = 30.0  # from the answer to session.start
    idle_s: float = 15.0


class Peer:
    def __init__(
        self,
        peer_id: str,
        pc: RTCPeerConnection,
        call: CallContext,
        timeouts: PeerTimeouts,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.id = peer_id
        self.pc = pc
        self.call = call
        self.timeouts = timeouts
        self.track = ReplyTrack()
        self.session: VoiceSession | None = None
        self.stop_reason: str | None = None
        self._resume: Resume | None = None  # the session.start continues a conversation
        self.dropped_messages = 0
        self._clock = clock
        self._last_activity = clock()
        self._inbox: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self._channel: RTCDataChannel | None = None
        self.transport: WebRtcTransport | None = None
        self._remote: MediaStreamTrack | None = None
        self._remote_ready = asyncio.Event()
        self._sink: Callable[[bytes], None] | None = None
        self._errors_in_a_row = 0
        pc.on("datachannel", self._on_datachannel)
        pc.on("track", self._on_track)
        pc.on("connectionstatechange", self._on_connection_state)

    # -- aiortc's callbacks: record, never work ---------------------------------------------

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label != CHANNEL_LABEL or self._channel is not None:
            channel.close()
            return
        self._channel = channel
        self.transport = WebRtcTransport(channel, self.track, self._connected)
        channel.on("message", self._on_message)
        channel.on("close", lambda: self.stop("data_channel_closed"))

    def _on_message(self, message: str | bytes) -> None:
        self._last_activity = self._clock()
        if self._inbox.qsize() >= MAX_INBOX:
            self.dropped_messages += 1
            return
        self._inbox.put_nowait(message)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio" and self._remote is None:
            self._remote = track
            self._remote_ready.set()

    def _connected(self) -> bool:
        # aiortc's channel stays "open" for a while after DTLS has gone, and a send then fails
        # in a task of its own ("Task exception was never retrieved"): check the connection.
        return self.pc.connectionState == "connected"

    def _on_connection_state(self) -> None:
        state = self.pc.connectionState
        if state == "failed":
            self.stop("ice_failed")
        elif state == "closed":
            self.stop("peer_closed")

    def stop(self, reason: str) -> None:
        """End the call (the first reason wins); :meth:`run` stores it and closes."""
        if self.stop_reason is None:
            self.stop_reason = reason
            self._inbox.put_nowait(None)  # wakes the reader; unbounded for this one item

    # -- the call -----------------------------------------------------------------------------

    async def run(self) -> None:
        helpers = [
            asyncio.create_task(self._pump_audio(), name=f"webrtc-audio-{self.id[:8]}"),
            asyncio.create_task(self._watch_idle(), name=f"webrtc-idle-{self.id[:8]}"),
        ]
        try:
            start = await self._await_start()
            if start:
                admission = await self._admit()
                if admission is not None:
                    await self._converse(admission)
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("webrtc call failed")
            self._send(error("internal_error", "the server failed", fatal=True))
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await self._close_connection()
            if self.call.on_end is not None:
                try:
                    await self.call.on_end()
                except Exception:
                    _log.exception("the end of a webrtc call could not be recorded")

    async def _await_start(self) -> bool:
        try:
            async with asyncio.timeout(self.timeouts.start_s):
                while (message := await self._inbox.get()) is not None:
                    try:
                        parsed = parse_message(message)
                        if isinstance(parsed, SessionEnd):
                            self.stop("client_ended")
                            return False
                        if parsed.bot_id != self.call.bot.id:
                            raise ProtocolViolation(
                                "bot_not_found",
                                f"this call was offered for another bot than {parsed.bot_id}",
                            )
                        self._resume = parsed.resume
                        return True
                    except ProtocolViolation as exc:
                        if not self._error(exc):
                            return False
        except TimeoutError:
            self._send(error("start_timeout", "no session.start received", fatal=True))
            self.stop("start_timeout")
        return False

    def _error(self, exc: ProtocolViolation) -> bool:
        """Tell the caller; False when there have been too many in a row (the call ends)."""
        self._errors_in_a_row += 1
        if self._errors_in_a_row >= MAX_ERRORS_IN_A_ROW:
            self._send(error("too_many_errors", "too many protocol errors in a row", fatal=True))
            self.stop("protocol_errors")
            return False
        self._send(exc.error())
        return True

    def _send(self, event: ServerEvent) -> None:
        """An event outside the session (before it starts, or when it cannot)."""
        if self._channel is None or not self._connected():
            return
        with contextlib.suppress(ChannelGone):
            send_text(self._channel, encode(event))

    async def _admit(self) -> Admission | None:
        """The plan's check and the session's row, atomically (as for every transport); None
        when refused, after the caller has been told why and heard the notice."""
        call = self.call
        try:
            return await admit(
                call.services,
                call.quota,
                call.bot,
                transport_name="webrtc",
                input_rate=PIPELINE_RATE,
                output_rate=REPLY_RATE,
                resume=self._resume,
            )
        except ResumeRefused as exc:  # as on the WebSocket: nothing written, start afresh
            self._send(error("conversation_not_found", exc.detail, fatal=True))
            self.stop("conversation_not_found")
            return None
        except QuotaExceeded as exc:
            assert self.transport is not None
            with contextlib.suppress(ChannelGone):
                await refuse(call.services, self.transport, exc, call.bot, REPLY_RATE)
            self.stop("quota_exceeded")
            return None

    async def _converse(self, admission: Admission) -> None:
        call = self.call
        assert self.transport is not None
        session = open_session(
            call.services,
            call.brain,
            call.bot,
            self.transport,
            admission,
            transport_name="webrtc",
            input_rate=PIPELINE_RATE,
            channels=1,
            output_rate=REPLY_RATE,
        )
        self.session = session
        try:
            async with call.services.manager.run(session):
                self._sink = session.feed_audio
                try:
                    await self._serve(session)
                finally:
                    self._sink = None
                reason = self.stop_reason or "server_closed"
                session.end(reason)  # the session's own reason (plan limit, idle) stands
                if reason in CLIENT_GONE:
                    session.client_gone()
        except* SessionOverflow:
            pass
        except* Exception:
            _log.exception("webrtc voice session failed")

    async def _serve(self, session: VoiceSession) -> None:
        """Read the channel until the call stops or the session ends itself."""
        finished = asyncio.create_task(session.finished.wait(), name=f"webrtc-fin-{self.id[:8]}")
        try:
            while True:
                reader = asyncio.create_task(self._inbox.get())
                await asyncio.wait((reader, finished), return_when=asyncio.FIRST_COMPLETED)
                if not reader.done():
                    reader.cancel()
                    await asyncio.wait((reader,))
                    return  # the session ended itself (its end_reason says why)
                message = reader.result()
                if message is None:
                    return
                try:
                    if isinstance(parse_message(message), SessionEnd):
                        self.stop("client_ended")
                        return
                    raise ProtocolViolation(
                        "session_already_started", "this connection already has a session"
                    )
                except ProtocolViolation as exc:
                    self._errors_in_a_row += 1
                    session.emit(exc.error())
                    if self._errors_in_a_row >= MAX_ERRORS_IN_A_ROW:
                        session.emit(
                            error("too_many_errors", "too many protocol errors", fatal=True)
                        )
                        self.stop("protocol_errors")
                        return
        finally:
            finished.cancel()
            await asyncio.wait((finished,))

    # -- helpers running for the whole call ---------------------------------------------------

    async def _pump_audio(self) -> None:
        """Decode the caller's track into the session (before session.start: discard it, so
        aiortc's unbounded receive queue never grows)."""
        await self._remote_ready.wait()
        assert self._remote is not None
        inbound = CallerAudio()
        while True:
            try:
                frame = await self._remote.recv()
            except MediaStreamError:
                self.stop("peer_closed")
                return
            self._last_activity = self._clock()
            pcm = inbound.feed(frame)  # type: ignore[arg-type]
            sink = self._sink
            if sink is not None and pcm:
                try:
                    sink(pcm)
                except SessionOverflow as exc:
                    if self.session is not None:
                        self.session.end("overflow")
                        self.session.emit(error("overflow", str(exc), fatal=True))
                    self.stop("overflow")
                    return

    async def _watch_idle(self) -> None:
        period = min(1.0, self.timeouts.idle_s / 4)
        while True:
            await asyncio.sleep(period)
            if self._clock() - self._last_activity > self.timeouts.idle_s:
                self.stop("idle_timeout")
                return

    async def _close_connection(self) -> None:
        channel = self._channel
        if channel is not None and channel.readyState == "open" and self._connected():
            # A graceful close: SCTP resets the stream only after the queued events (the last
            # is session.ended), so the caller gets them before the connection goes away.
            self.stop("server_closed")
            channel.close()
            deadline = self._clock() + DRAIN_TIMEOUT_S
            while channel.readyState != "closed" and self._clock() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        self.track.stop()
        await self.pc.close()
