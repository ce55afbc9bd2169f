"""What the console contributes to the app: its router under /console, its static files, the
Jinja template engine with HTMX support, and a lifespan that derives its cookie keys."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Litestar, Router
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.plugins import InitPluginProtocol
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar_htmx import HTMXConfig, HTMXPlugin, HTMXRequest

from dashboard_api.console import filters
from dashboard_api.console.analytics_pages import AnalyticsPages
from dashboard_api.console.auth_pages import AuthPages
from dashboard_api.console.billing_pages import BillingPages
from dashboard_api.console.bot_pages import BotPages
from dashboard_api.console.conversation_pages import ConversationPages
from dashboard_api.console.cookies import ConsoleCookies
from dashboard_api.console.key_pages import KeyPages
from dashboard_api.console.knowledge_pages import KnowledgePages
from dashboard_api.console.recording_pages import RecordingPages
from dashboard_api.console.team_pages import RetentionPages, TeamPages
from dashboard_api.console.web import (
    STATE_KEY,
    csrf_guard,
    error_page,
    provide_console_user,
    security_headers_middleware,
)
from dashboard_api.services import signing_secret
from voice_server.errors import ParleyError
from voice_server.plugin import PackagePlugin
from voice_server.runtime import DATABASE, runtime_of
from voice_server.settings import Settings
from voice_server.voice.recordings import sweep
from voice_server.voice.services import RECORDINGS

_log = logging.getLogger("parley.console")
HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,  # a misspelt variable is an error, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
    )
    filters.register(env)
    return env


class ConsoleTemplates(InitPluginProtocol):
    """Gives the app its template engine (only the console renders templates)."""

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        if app_config.template_config is None:
            app_config.template_config = TemplateConfig(
                instance=JinjaTemplateEngine.from_environment(environment())
            )
        return app_config


async def sweep_recordings(app: Litestar, interval_s: float) -> None:
    """Call recordings past their tenant's retention, or whose conversation is gone, are
    deleted at start-up and then every ``interval_s`` seconds."""
    while True:
        runtime = runtime_of(app)
        store = runtime.find(RECORDINGS)
        if store is not None:
            try:
                deleted = await sweep(runtime.get(DATABASE).pool, store)
                if deleted:
                    _log.info("deleted %d call recording(s)", deleted)
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.exception("sweeping call recordings failed; trying again later")
        await asyncio.sleep(interval_s)


def plugin(settings: Settings) -> PackagePlugin:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with runtime_of(app).get(DATABASE).pool.acquire() as conn:
            secret = await signing_secret(settings, conn)
        app.state[STATE_KEY] = ConsoleCookies.from_secret(secret, ttl_s=settings.session_ttl_s)
        sweeper = asyncio.create_task(
            sweep_recordings(app, settings.recording_sweep_interval_s), name="recording-sweeper"
        )
        try:
            yield
        finally:
            app.state[STATE_KEY] = None
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper

    router = Router(
        path="/console",
        route_handlers=[
            AuthPages,
            BotPages,
            KnowledgePages,
            ConversationPages,
            RecordingPages,
            AnalyticsPages,
            KeyPages,
            BillingPages,
            TeamPages,
            RetentionPages,
        ],
        dependencies={"console_user": Provide(provide_console_user)},
        before_request=csrf_guard,
        middleware=[security_headers_middleware],
        # As specific as the app's own handlers, or theirs (problem JSON) would win.
        exception_handlers={
            ParleyError: error_page,
            HTTPException: error_page,
            Exception: error_page,
        },
        request_class=HTMXRequest,
        include_in_schema=False,
    )
    static = create_static_files_router(
        path="/console/static",
        directories=[STATIC],
        include_in_schema=False,
        cache_control=None,
        name="console_static",
    )
    return PackagePlugin(
        name="console",
        route_handlers=[router, static],
        lifespans=[lifespan],
        app_plugins=[ConsoleTemplates(), HTMXPlugin(HTMXConfig(set_request_class_globally=False))],
    )
