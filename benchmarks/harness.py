"""Parley under test: the embedded database, the vendor fakes with a latency profile, and the
whole app on a real port — the same pieces the integration tests use.

    async with parley_under_test("cloud") as target:
        target.ws_url, target.bot_id, target.origin, target.publishable_key
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from tests.fakes.deepgram import deepgram_server
from tests.fakes.groq_audio import groq_audio_server
from tests.fakes.groq_chat import FakeGroq as FakeGroqChat
from tests.fakes.groq_chat import LatencyProfile as ChatLatency
from tests.fakes.latency import CLOUD, ZERO, LatencyProfile
from tests.support.postgres import create_database, create_template, test_server, with_database
from tests.support.server import serve_app
from tests.support.tenants import create_tenant
from voice_server.app import create_app
from voice_server.settings import Settings

PROFILES = {"zero": ZERO, "cloud": CLOUD}
# What the fake STT hears, whatever the audio: the benchmark measures time, not recognition.
HEARD = "what are your opening hours"


@dataclass(frozen=True)
class Target:
    ws_url: str
    bot_id: UUID
    origin: str
    publishable_key: str
    profile: LatencyProfile
    settings: Settings
    chat: FakeGroqChat


@asynccontextmanager
async def parley_under_test(profile_name: str, *, offline: bool = False) -> AsyncIterator[Target]:
    """Start everything; ``offline`` uses the embedded engines instead of the vendor fakes."""
    profile = PROFILES[profile_name]
    async with AsyncExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="parley-bench-")))
        admin_url = stack.enter_context(test_server(None))
        template = await create_template(admin_url)
        database_url = with_database(admin_url, await create_database(admin_url, template=template))
        values: dict[str, object] = {
            "data_dir": tmp / "data",
            "database_url": database_url,
            "log_level": "WARNING",
            "db_pool_max": 40,
            "billing_default_plan": "unlimited",
        }
        chat = FakeGroqChat(
            latency=ChatLatency(
                time_to_first_token_s=profile.llm_first_token.base_s,
                tokens_per_s=None if profile.is_zero else profile.llm_tokens_per_s,
            )
        )
        if not offline:
            stt = await stack.enter_async_context(groq_audio_server(text=HEARD, latency=profile))
            # A tone, not eSpeak: the fake must not spend the server process's CPU on speech.
            tts = await stack.enter_async_context(deepgram_server(latency=profile, audio="tone"))
            llm_url = await stack.enter_async_context(chat.serve())
            values.update(
                stt_provider="groq", groq_api_key=stt.api_key, groq_base_url=stt.base_url,
                tts_provider="deepgram", deepgram_api_key=tts.api_key,
                deepgram_base_url=tts.base_url,
                llm_provider="groq", llm_api_key=chat.api_key, llm_base_url=llm_url,
            )  # fmt: skip
        settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
        tenant = await create_tenant(database_url, plan="business")
        url = await stack.enter_async_context(serve_app(create_app(settings)))
        yield Target(
            ws_url=url.replace("http://", "ws://") + "/v1/voice/ws",
            bot_id=tenant.bot_id,
            origin=tenant.origin,
            publishable_key=tenant.publishable_key,
            profile=profile,
            settings=settings,
            chat=chat,
        )
