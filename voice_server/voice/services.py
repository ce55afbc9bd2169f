"""The voice package's long-lived parts, created in its lifespan and injected with ``Provide``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field

from litestar import Litestar

from voice_server.drain import Drain
from voice_server.errors import ServiceUnavailable
from voice_server.runtime import DATABASE, USAGE_RECORDER, Slot, runtime_of
from voice_server.settings import Settings
from voice_server.voice.config import VoiceConfig
from voice_server.voice.liveness import PgLiveness, close_leftovers, instance_id
from voice_server.voice.manager import SessionManager
from voice_server.voice.providers import factory
from voice_server.voice.providers.base import SpeechToText, TextToSpeech
from voice_server.voice.recording_store import RecordingStore
from voice_server.voice.recordings import CallRecordings
from voice_server.voice.store import AdmittingVoiceStore, PgVoiceStore
from voice_server.voice.waterfall import VoiceMetrics

_log = logging.getLogger("parley.voice")


@dataclass
class Providers:
    stt: SpeechToText
    tts: TextToSpeech
    # Speaks the apology when the TTS vendor itself fails (the offline voice); may be ``tts``.
    fallback_tts: TextToSpeech | None = None


ProvidersFactory = Callable[[Settings], Providers]


@dataclass
class VoiceServices:
    settings: Settings
    config: VoiceConfig
    store: AdmittingVoiceStore
    metrics: VoiceMetrics
    manager: SessionManager = field(default_factory=SessionManager)
    providers: Providers | None = None
    providers_error: str | None = None
    recordings: CallRecordings | None = None

    def require_providers(self) -> Providers:
        if self.providers is None:
            raise ServiceUnavailable(f"speech providers are not available: {self.providers_error}")
        return self.providers


def default_providers(settings: Settings) -> Providers:
    """The providers the settings select (offline pocketsphinx + eSpeak NG without keys); the
    offline voice speaks the apology when the TTS vendor fails."""
    return Providers(
        stt=factory.build_stt(settings),
        tts=factory.build_tts(settings),
        fallback_tts=factory.build_fallback_tts(settings),
    )


VOICE: Slot[VoiceServices] = Slot(
    "voice", "the voice service is starting or stopping; retry shortly"
)
# Where call recordings' audio lives; the console streams, deletes and sweeps them.
RECORDINGS: Slot[RecordingStore] = Slot("call recordings")


def lifespan(
    settings: Settings, providers_factory: ProvidersFactory | None = None
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def voice_lifespan(app: Litestar) -> AsyncIterator[None]:
        runtime = runtime_of(app)
        pool = runtime.get(DATABASE).pool
        # Sessions a crashed run left open end before this run takes calls (voice.liveness).
        liveness = PgLiveness(pool, instance_id(settings))
        await close_leftovers(pool, liveness.instance, settings.voice_liveness_s)
        services = VoiceServices(
            settings=settings,
            config=VoiceConfig.from_settings(settings),
            # Billing's lifespan (before ours) publishes the ledger's recorder; without billing
            # voice seconds are simply not recorded.
            store=PgVoiceStore(pool, usage=runtime.find(USAGE_RECORDER)),
            metrics=VoiceMetrics(runtime.metrics),
            manager=SessionManager(liveness=liveness, heartbeat_s=settings.voice_heartbeat_s),
        )
        try:
            services.providers = (providers_factory or default_providers)(settings)
        except Exception as exc:  # the server still serves everything but voice
            _log.error("speech providers unavailable: %s", exc)
            services.providers_error = str(exc) or type(exc).__name__
        # Call recordings (bots opt in) live under the data directory; the console streams them.
        recording_store = RecordingStore(settings.data_dir / "recordings")
        services.recordings = CallRecordings(pool, recording_store)
        # SIGTERM (voice_server.drain): calls finish their reply and hear the notice first.
        drain = app.state.get("drain") or Drain()
        notice = settings.shutdown_notice

        async def drain_voice(timeout_s: float) -> None:
            await services.manager.drain(notice, timeout_s)

        try:
            with (
                runtime.holding(VOICE, services),
                runtime.holding(RECORDINGS, recording_store),
                drain.step("voice", drain_voice),
            ):
                yield
        finally:
            await services.manager.shutdown()
            if services.providers is not None:
                for provider in {
                    id(p): p
                    for p in (
                        services.providers.stt,
                        services.providers.tts,
                        services.providers.fallback_tts,
                    )
                    if p is not None
                }.values():
                    await provider.aclose()

    return voice_lifespan
