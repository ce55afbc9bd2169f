"""The app factory: each package contributes its routes; errors map to problem JSON in one place."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide

from voice_server import openapi
from voice_server.db import Database, open_database
from voice_server.db.migrations import load_migrations, migrate
from voice_server.drain import Drain
from voice_server.errors import ServiceUnavailable
from voice_server.health import HealthController
from voice_server.metrics import Metrics
from voice_server.middleware import ParleyRequest, request_context_middleware
from voice_server.plugin import PackagePlugin
from voice_server.problems import exception_handlers
from voice_server.runtime import DATABASE, Runtime
from voice_server.settings import Settings

_log = logging.getLogger("parley.app")


def package_plugins(settings: Settings) -> list[PackagePlugin]:
    """Every package's contribution, in the order their lifespans start."""
    from billing.plugin import plugin as billing
    from dashboard_api.console.plugin import plugin as console
    from dashboard_api.plugin import plugin as dashboard_api
    from rag.plugin import plugin as rag
    from voice_server.voice.plugin import plugin as voice
    from voice_server.web.plugin import plugin as web

    operations = PackagePlugin(name="operations", route_handlers=[HealthController])
    return [
        operations,
        dashboard_api(settings),
        billing(settings),
        rag(settings),
        voice(settings),
        console(settings),
        web(settings),  # last: the demo seeder uses the knowledge service
    ]


def provide_database(state: State) -> Database:
    """The ``database`` dependency: the open database, or 503 while starting or stopping."""
    database: Database | None = state.get("database")
    if database is None:
        raise ServiceUnavailable("the server is starting or stopping; retry shortly")
    return database


def provide_runtime(state: State) -> Runtime:
    """The ``runtime`` dependency (voice_server.runtime.provide builds on it)."""
    runtime: Runtime = state.runtime
    return runtime


def create_app(settings: Settings, *, database: Database | None = None) -> Litestar:
    """Build the app. Given a ``database``, the caller owns it; otherwise the app's lifespan
    opens one (starting the embedded server if needed) and closes it on shutdown."""
    # The principal dependency records each request's rate-limit decision; this adds the
    # `RateLimit-*` headers to every route's responses, whichever package the route belongs to.
    from dashboard_api.cors import cors_middleware
    from dashboard_api.rate_limit_headers import rate_limit_headers_middleware
    from dashboard_api.voice_access import voice_lease_middleware

    metrics = Metrics()
    runtime = Runtime(settings, metrics)
    migrations = load_migrations()
    plugins = package_plugins(settings)

    @asynccontextmanager
    async def database_lifespan(app: Litestar) -> AsyncIterator[None]:
        try:
            async with AsyncExitStack() as stack:
                db = database
                if db is None:
                    db = await stack.enter_async_context(open_database(settings))
                if settings.migrate_on_start:
                    async with db.pool.acquire() as conn:
                        applied = await migrate(conn, migrations)
                    if applied:
                        _log.info("migrations applied: %s", ", ".join(m.label for m in applied))
                app.state.database = db
                stack.enter_context(runtime.holding(DATABASE, db))
                # Plugins start after the database and stop before it (the stack unwinds).
                for plugin in plugins:
                    for lifespan in plugin.lifespans:
                        await stack.enter_async_context(lifespan(app))
                yield
        finally:
            app.state.database = None

    app = Litestar(
        route_handlers=[
            *(
                Router(path="/", route_handlers=list(p.route_handlers), tags=[p.name])
                for p in plugins
                if p.route_handlers
            ),
            *openapi.ASSET_ROUTES,  # the offline API reference UI's pinned assets
        ],
        dependencies={
            "database": Provide(provide_database, sync_to_thread=False),
            "runtime": Provide(provide_runtime, sync_to_thread=False),
            **{k: v for p in plugins for k, v in p.dependencies.items()},
        },
        middleware=[cors_middleware, rate_limit_headers_middleware, voice_lease_middleware],
        request_class=ParleyRequest,  # JSON bodies are checked for depth before decoding
        plugins=[p for plugin in plugins for p in plugin.app_plugins],
        lifespan=[database_lifespan],
        exception_handlers=exception_handlers(),
        state=State(
            {
                "settings": settings,
                "metrics": metrics,
                "migrations": migrations,
                "database": None,
                "runtime": runtime,
                "drain": Drain(),  # SIGTERM: `parley serve` runs it (voice_server.server)
            }
        ),
        openapi_config=openapi.openapi_config(),
        logging_config=None,
        debug=False,
    )
    # Route middleware never sees requests that match no route (404, 405), so the request id and
    # metrics wrap Litestar's outermost handler instead: every response gets an id.
    app.asgi_handler = request_context_middleware(metrics)(app.asgi_handler)
    openapi.install(app)
    return app
