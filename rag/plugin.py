"""What `rag` contributes to the app (see voice_server.plugin): the knowledge services and their
ingestion worker, the ``brain`` every turn calls, and the documents and chat routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide

from rag.metrics import RagMetrics
from rag.routes_chat import ChatController, chat_socket
from rag.routes_documents import DocumentsController
from rag.services import RagServices, build_services, running
from voice_server.brain import Brain
from voice_server.errors import ServiceUnavailable
from voice_server.plugin import PackagePlugin
from voice_server.settings import Settings


def provide_rag(state: State) -> RagServices:
    services: RagServices | None = state.get("rag")
    if services is None:
        raise ServiceUnavailable("the knowledge service is starting or stopping; retry shortly")
    return services


def provide_brain(state: State) -> Brain:
    brain: Brain | None = state.get("brain")
    if brain is None:
        raise ServiceUnavailable("the knowledge service is starting or stopping; retry shortly")
    return brain


def plugin(settings: Settings) -> PackagePlugin:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        services = build_services(settings, app.state.database.pool)
        services.attach_metrics(RagMetrics.register(app.state.metrics))
        async with running(services):
            app.state.rag = services
            # The voice pipeline takes the same brain from app.state.
            app.state.brain = services.brain
            try:
                yield
            finally:
                app.state.rag = None
                app.state.brain = None

    return PackagePlugin(
        name="rag",
        route_handlers=[DocumentsController, ChatController, chat_socket],
        dependencies={
            "rag": Provide(provide_rag, sync_to_thread=False),
            "brain": Provide(provide_brain, sync_to_thread=False),
        },
        lifespans=[lifespan],
    )
