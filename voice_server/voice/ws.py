"""``WS /v1/voice/ws``: the thin WebSocket adapter around :class:`VoiceSession`.

Binary frames carry PCM16 both ways, text frames JSON (docs/voice-protocol.md). Bad input gets a
typed ``error`` event and the connection stays open; it closes only when going on makes no
sense, with a code from :data:`voice_server.voice.protocol.CLOSE_CODES` (or
:data:`~voice_server.voice.protocol.CLOSE_QUOTA`).

With billing present (the app-wide ``quota`` dependency), a session is admitted by the plan: the
quota check and the session's row in one transaction. A refusal gets the ``quota_exceeded``
error event, a short spoken notice and close 4402; an admitted session knows the voice seconds
it may spend and ends itself, after a spoken notice, when they run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from litestar import WebSocket, websocket
from litestar.di import NamedDependency
from litestar.exceptions import WebSocketDisconnect
from litestar.params import SkipValidation

from voice_server.brain import BotProfile, Brain
from voice_server.drain import ServerDraining
from voice_server.errors import QuotaExceeded, RateLimited
from voice_server.principal import Principal, is_visitor
from voice_server.voice.allowance import END_REASON, VoiceQuota
from voice_server.voice.calls import Admission, admit, open_session, refuse
from voice_server.voice.gate import resolve_principal
from voice_server.voice.protocol import (
    CLOSE_GOING_AWAY,
    CLOSE_INTERNAL,
    CLOSE_NORMAL,
    CLOSE_NOT_FOUND,
    CLOSE_POLICY,
    CLOSE_QUOTA,
    CLOSE_START_TIMEOUT,
    CLOSE_TRY_AGAIN,
    ProtocolViolation,
    ServerEvent,
    SessionEnd,
    SessionStart,
    check_audio,
    encode,
    error_event,
    parse_text,
)
from voice_server.voice.resume import ResumeRefused
from voice_server.voice.services import VoiceServices
from voice_server.voice.session import SHUTDOWN_REASON, SessionOverflow, VoiceSession

_log = logging.getLogger("parley.voice")

START_TIMEOUT_S = 30.0
MAX_ERRORS_IN_A_ROW = 20


class _Closed(Exception):
    """The client went away."""


class WebSocketTransport:
    """The voice engine's :class:`~voice_server.voice.engine.transport.Transport` over a
    WebSocket: events as JSON text frames, audio as binary frames. Nothing is buffered here (the
    client drops its own playback buffer on ``interrupted``), so ``clear_audio`` has no work."""

    def __init__(self, socket: WebSocket[Any, Any, Any]) -> None:
        self._socket = socket

    async def send_event(self, event: ServerEvent) -> None:
        await self._socket.send_data(encode(event))

    async def send_audio(self, pcm: bytes) -> None:
        await self._socket.send_bytes(pcm)

    def clear_audio(self) -> None:
        return None


class VoiceConnection:
    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        services: VoiceServices,
        brain: Brain | None,
        quota: VoiceQuota | None = None,
    ) -> None:
        self.socket = socket
        self.services = services
        self.brain = brain
        self.quota = quota
        self._errors_in_a_row = 0
        self.principal: Principal | None = None
        self.transport = WebSocketTransport(socket)

    async def run(self) -> None:
        await self.socket.accept()
        try:
            self.principal = await resolve_principal(self.socket)
            started = await self._await_start()
            if started is None:
                return
            start, bot = started
            admission = await self._admit(start, bot)
            if admission is None:
                return
            await self._converse(start, bot, admission)
        except _Closed:
            return
        except ProtocolViolation as exc:
            await self._close_with(exc)
        except ServerDraining as exc:  # a new caller while the server drains: try elsewhere
            await self._close_with(
                ProtocolViolation("server_draining", exc.detail, close=CLOSE_TRY_AGAIN)
            )
        except RateLimited as exc:  # the key's, the visitor's or the tenant's budget
            await self._close_with(
                ProtocolViolation(
                    "rate_limited",
                    f"{exc.detail}",
                    close=CLOSE_TRY_AGAIN,
                    extra={"retry_after_s": exc.retry_after_s},
                )
            )
        except Exception:
            # Not Litestar's bare 4500: the client gets the documented error event and 1011.
            _log.exception("voice connection failed")
            await self._close_with(
                ProtocolViolation("internal_error", "the server failed", close=CLOSE_INTERNAL)
            )

    async def _receive(self) -> dict[str, Any]:
        try:
            message = await self.socket.receive()
        except WebSocketDisconnect:
            raise _Closed from None
        if message["type"] == "websocket.disconnect":
            raise _Closed
        return dict(message)

    async def _error(self, exc: ProtocolViolation) -> None:
        self._errors_in_a_row += 1
        await self.transport.send_event(exc.error())
        if self._errors_in_a_row >= MAX_ERRORS_IN_A_ROW:
            raise ProtocolViolation(
                "too_many_errors", "too many protocol errors in a row", close=CLOSE_POLICY
            )

    async def _close_with(self, exc: ProtocolViolation) -> None:
        try:
            await self.transport.send_event(exc.error())
            await self.socket.close(exc.close or CLOSE_INTERNAL, exc.message[:120])
        except (WebSocketDisconnect, RuntimeError, OSError):  # the client has gone already
            pass

    async def _await_start(self) -> tuple[SessionStart, BotProfile] | None:
        """Until a valid session.start: audio and other messages get typed errors."""
        max_bytes = self.services.settings.voice_max_frame_bytes
        while True:
            try:
                async with asyncio.timeout(START_TIMEOUT_S):
                    message = await self._receive()
            except TimeoutError:
                raise ProtocolViolation(
                    "start_timeout", "no session.start received", close=CLOSE_START_TIMEOUT
                ) from None
            try:
                if message.get("bytes") is not None:
                    check_audio(message["bytes"], started=False, channels=1, max_bytes=max_bytes)
                    continue
                parsed = parse_text(message.get("text") or "")
                if isinstance(parsed, SessionEnd):
                    await self.socket.close(CLOSE_NORMAL)
                    return None
                principal = self.principal
                bot = await self.services.store.find_bot(
                    parsed.bot_id, principal.tenant_id if principal else None
                )
                if bot is None or (principal is not None and not principal.may_use_bot(bot.id)):
                    raise ProtocolViolation("bot_not_found", f"no bot {parsed.bot_id}")
                if self.brain is None or self.services.providers is None:
                    raise ProtocolViolation(
                        "voice_unavailable",
                        "voice conversations are not available on this server right now",
                        close=CLOSE_INTERNAL,
                    )
                return parsed, bot
            except ProtocolViolation as exc:
                if exc.close is not None:
                    raise
                await self._error(exc)

    async def _admit(self, start: SessionStart, bot: BotProfile) -> Admission | None:
        """The plan's check and the session's row, atomically; None when refused (the client
        has been told, and the connection closed)."""
        config = self.services.config.for_bot(bot.config, bot.language)
        output_rate = start.output_sample_rate or config.output_sample_rate
        try:
            return await admit(
                self.services,
                self.quota,
                bot,
                transport_name="websocket",
                input_rate=start.sample_rate,
                output_rate=output_rate,
                resume=start.resume,
            )
        except ResumeRefused as exc:
            # Another tenant's, another bot's, or another caller's conversation (or a wrong
            # secret): nothing was written; the client may start afresh without conversation_id.
            raise ProtocolViolation(
                "conversation_not_found", exc.detail, close=CLOSE_NOT_FOUND
            ) from None
        except QuotaExceeded as exc:
            # The client may hang up while the notice plays; there is nothing left to tell it.
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                await refuse(
                    self.services,
                    self.transport,
                    exc,
                    bot,
                    output_rate,
                    visitor=is_visitor(self.socket.scope),
                )
                await self.socket.close(CLOSE_QUOTA, "quota exceeded")
            return None

    async def _converse(self, start: SessionStart, bot: BotProfile, admission: Admission) -> None:
        assert self.brain is not None
        session = open_session(
            self.services,
            self.brain,
            bot,
            self.transport,
            admission,
            transport_name="websocket",
            input_rate=start.sample_rate,
            channels=start.channels,
            output_rate=start.output_sample_rate,
        )
        close_code = CLOSE_NORMAL
        violation: ProtocolViolation | None = None
        try:
            async with self.services.manager.run(session):
                try:
                    await self._pump_until_finished(session, start)
                except _Closed:
                    session.client_gone()
                    return
                except ProtocolViolation as exc:
                    violation = exc
                except SessionOverflow as exc:
                    session.end("overflow")
                    session.emit(error_event("overflow", str(exc), fatal=True))
                    close_code = CLOSE_INTERNAL
        except* SessionOverflow:
            close_code = CLOSE_INTERNAL
        except* Exception:
            _log.exception("voice session failed")
            close_code = CLOSE_INTERNAL
        if violation is not None:
            await self._close_with(violation)
            return
        if session.end_reason == END_REASON:
            close_code = CLOSE_QUOTA
        elif session.end_reason == SHUTDOWN_REASON:
            close_code = CLOSE_GOING_AWAY  # Parley's own 1001, not uvicorn's 1012
        # OSError: uvicorn's ClientDisconnected, when the client hung up first.
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await self.socket.close(close_code)

    async def _pump_until_finished(self, session: VoiceSession, start: SessionStart) -> None:
        """Read the client until it ends, or until the session ends itself (plan limit, idle
        timeout, maximum length)."""
        pump = asyncio.create_task(self._pump(session, start), name="voice-pump")
        finished = asyncio.create_task(session.finished.wait(), name="voice-finished")
        try:
            await asyncio.wait((pump, finished), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, finished):
                if not task.done():
                    task.cancel()
                    await asyncio.wait((task,))
        if not pump.cancelled():
            pump.result()  # how the client ended: normally, gone, a violation, an overflow

    async def _pump(self, session: VoiceSession, start: SessionStart) -> None:
        max_bytes = self.services.settings.voice_max_frame_bytes
        while True:
            message = await self._receive()
            try:
                data = message.get("bytes")
                if data is not None:
                    check_audio(data, started=True, channels=start.channels, max_bytes=max_bytes)
                    session.feed_audio(data)
                else:
                    parsed = parse_text(message.get("text") or "")
                    if isinstance(parsed, SessionEnd):
                        session.end("client_ended")
                        return
                    raise ProtocolViolation(
                        "session_already_started", "this connection already has a session"
                    )
                self._errors_in_a_row = 0
            except ProtocolViolation as exc:
                if exc.close is not None:
                    raise
                self._errors_in_a_row += 1
                session.emit(exc.error())
                if self._errors_in_a_row >= MAX_ERRORS_IN_A_ROW:
                    session.end("protocol_errors")
                    raise ProtocolViolation(
                        "too_many_errors", "too many protocol errors in a row", close=CLOSE_POLICY
                    ) from exc


@websocket("/v1/voice/ws")
async def voice_socket(
    socket: WebSocket[Any, Any, Any],
    voice_services: NamedDependency[VoiceServices],
    brain: NamedDependency[SkipValidation[Brain | None]] = None,
    # billing's quota service; absent (no billing package) every session is admitted
    quota: NamedDependency[SkipValidation[VoiceQuota | None]] = None,
) -> None:
    """A voice conversation. Start it with a `session.start` text frame naming the bot and the
    sample rates; then send PCM16 binary frames. See docs/voice-protocol.md."""
    await VoiceConnection(socket, voice_services, brain, quota).run()
