"""The app factory: each package contributes its routes; errors map to problem JSON in one place."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.types import ControllerRouterHandler

from voice_server import __version__
from voice_server.db import Database, open_database
from voice_server.db.migrations import load_migrations, migrate
from voice_server.health import HealthController
from voice_server.metrics import Metrics
from voice_server.middleware import request_context_middleware
from voice_server.problems import exception_handlers
from voice_server.settings import Settings

_log = logging.getLogger("parley.app")


def package_routers(settings: Settings) -> Sequence[ControllerRouterHandler]:
    """One router per package. Packages register here as their issues land."""
    return [Router(path="/", route_handlers=[HealthController], tags=["operations"])]


def create_app(settings: Settings, *, database: Database | None = None) -> Litestar:
    """Build the app. Given a ``database``, the caller owns it; otherwise the app's lifespan
    opens one (starting the embedded server if needed) and closes it on shutdown."""
    metrics = Metrics()
    migrations = load_migrations()

    @asynccontextmanager
    async def database_lifespan(app: Litestar) -> AsyncIterator[None]:
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
            try:
                yield
            finally:
                app.state.database = None

    app = Litestar(
        route_handlers=list(package_routers(settings)),
        lifespan=[database_lifespan],
        exception_handlers=exception_handlers(),
        state=State(
            {"settings": settings, "metrics": metrics, "migrations": migrations, "database": None}
        ),
        openapi_config=OpenAPIConfig(
            title="Parley",
            version=__version__,
            path="/schema",
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
        ),
        logging_config=None,
        debug=False,
    )
    # Route middleware never sees requests that match no route (404, 405), so the request id and
    # metrics wrap Litestar's outermost handler instead: every response gets an id.
    app.asgi_handler = request_context_middleware(metrics)(app.asgi_handler)
    return app
