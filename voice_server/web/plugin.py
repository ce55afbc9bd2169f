"""The web package's contribution: widget script, public bot config, and the demo (seeded at
start when ``PARLEY_DEMO`` is on, removed when it is off)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide

from rag.plugin import RAG
from voice_server.plugin import PackagePlugin
from voice_server.runtime import DATABASE, runtime_of
from voice_server.settings import Settings
from voice_server.web.bundle import WidgetBundle, load_bundle
from voice_server.web.demo import Demo, demo_origins, remove_demo, seed_demo
from voice_server.web.routes import demo_route, public_config, widget_script

_log = logging.getLogger("parley.web")


def plugin(settings: Settings) -> PackagePlugin:
    bundle = load_bundle(settings.widget_bundle)
    demo_on = settings.demo is True
    holder: dict[str, Demo] = {}  # filled by the lifespan, read by the demo page

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if bundle is None:
            _log.warning("widget bundle not found: /widget/parley.js answers 404 (make widget)")
        runtime = runtime_of(app)
        async with runtime.get(DATABASE).pool.acquire() as conn:
            if demo_on:
                holder["demo"] = await seed_demo(
                    conn, runtime.get(RAG).ingestion, demo_origins(settings)
                )
                _log.info("demo ready at http://%s:%s/", settings.host, settings.port)
            else:
                await remove_demo(conn)
        yield

    def provide_bundle() -> WidgetBundle | None:
        return bundle

    routes = [widget_script(bundle), public_config]
    if demo_on:
        routes.append(demo_route(holder, bundle, settings.public_url))
    return PackagePlugin(
        name="web",
        route_handlers=routes,
        dependencies={"widget_bundle": Provide(provide_bundle, sync_to_thread=False)},
        lifespans=[lifespan],
    )
