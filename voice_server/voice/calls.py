"""Starting a voice call, for any transport: admission by the plan, then the session.

A transport (WebSocket today, WebRTC next) resolves the caller and the bot, then calls
:func:`admit` (the quota check and the session's row in one transaction; raises
``QuotaExceeded``, after which :func:`refuse` says why), and :func:`open_session` for the
:class:`VoiceSession` to run under ``services.manager.run``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from voice_server.brain import BotProfile, Brain
from voice_server.db.types import Connection
from voice_server.drain import ServerDraining
from voice_server.errors import QuotaExceeded
from voice_server.voice.allowance import (
    QUOTA_EXCEEDED,
    QuotaAllowance,
    SessionAllowance,
    VoiceQuota,
)
from voice_server.voice.engine.clock import SystemClock
from voice_server.voice.engine.lifetime import Lifetime
from voice_server.voice.engine.playout import notify_and_say
from voice_server.voice.engine.transport import Transport
from voice_server.voice.protocol import Notice, error_event
from voice_server.voice.records import Resume
from voice_server.voice.services import VoiceServices
from voice_server.voice.session import Engines, TurnTaking, VoiceSession
from voice_server.voice.store import StoredSession


@dataclass(frozen=True)
class Admission:
    stored: StoredSession
    allowance: SessionAllowance | None  # None: nothing is capped


async def admit(
    services: VoiceServices,
    quota: VoiceQuota | None,
    bot: BotProfile,
    *,
    transport_name: str,
    input_rate: int,
    output_rate: int,
    resume: Resume | None = None,
) -> Admission:
    """The plan's check and the session's row, atomically. Raises ``QuotaExceeded``, or
    ``ServerDraining`` once the server is shutting down, or ``ResumeRefused`` when ``resume``
    names a conversation this caller may not continue."""
    if services.manager.draining:
        raise ServerDraining
    granted: list[QuotaAllowance] = []

    async def check(conn: Connection) -> None:
        assert quota is not None
        granted.append(await quota.check(bot.tenant_id, "voice_session", conn=conn))

    stored = await services.store.start_session(
        bot,
        transport_name,
        input_rate,
        output_rate,
        admit=check if quota is not None else None,
        resume=resume,
    )
    if not granted:
        return Admission(stored, None)
    assert quota is not None
    others = functools.partial(
        quota.voice_seconds_used, bot.tenant_id, excluding_session=stored.session_id
    )
    notice = services.settings.billing_voice_limit_notice
    return Admission(stored, SessionAllowance.admitted(granted[0], notice, others))


async def refuse(
    services: VoiceServices,
    transport: Transport,
    exc: QuotaExceeded,
    bot: BotProfile,
    rate: int,
    *,
    visitor: bool = False,
) -> None:
    """Tell a refused caller why (the error event), and say it (busy line or no minutes). A
    website visitor hears the same notice but is shown no plan, limit or usage figures."""
    settings = services.settings
    busy = exc.extensions.get("limit_name") == "concurrent_voice_sessions"
    text = settings.billing_voice_busy_notice if busy else settings.billing_voice_limit_notice
    if visitor:
        await transport.send_event(error_event(QUOTA_EXCEEDED, text, fatal=True))
    else:
        await transport.send_event(
            error_event(QUOTA_EXCEEDED, exc.detail, fatal=True, **exc.extensions)
        )
    providers = services.providers
    if providers is None:
        return
    config = services.config.for_bot(bot.config, bot.language)
    await notify_and_say(
        transport,
        SystemClock(),
        Notice(QUOTA_EXCEEDED, None, text),
        (providers.tts, providers.fallback_tts),
        sample_rate=rate,
        lead_ms=config.pacer_lead_ms,
        options=config.voice,
    )


def open_session(
    services: VoiceServices,
    brain: Brain,
    bot: BotProfile,
    transport: Transport,
    admission: Admission,
    *,
    transport_name: str,
    input_rate: int,
    channels: int = 1,
    output_rate: int | None = None,
    turn_taking: TurnTaking | None = None,
) -> VoiceSession:
    """The session of an admitted call, with the bot's voice settings and the server's
    lifetime limits; run it with ``services.manager.run(session)``."""
    providers = services.require_providers()
    settings = services.settings
    config = services.config.for_bot(bot.config, bot.language)
    return VoiceSession(
        Engines(
            stt=providers.stt,
            tts=providers.tts,
            brain=brain,
            store=services.store,
            metrics=services.metrics,
            fallback_tts=providers.fallback_tts,
            recordings=services.recordings,
        ),
        config,
        bot,
        transport,
        input_rate=input_rate,
        channels=channels,
        output_rate=output_rate,
        transport_name=transport_name,
        stored=admission.stored,
        allowance=admission.allowance,
        turn_taking=turn_taking,
        lifetime=Lifetime(
            settings.voice_idle_timeout_s,
            settings.voice_max_session_s,
            settings.voice_max_session_notice,
        ),
    )
