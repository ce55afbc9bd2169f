"""What `rag` contributes to the app (see voice_server.plugin): the knowledge services and their
ingestion worker, the brain every turn calls, the one turn service (``rag.chat.ChatTurns``), and
the documents and chat routes. All three are published in the runtime (``RAG``, the kernel's
``BRAIN`` and ``TURNS``) for this lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from rag.chat import ChatTurns
from rag.metrics import RagMetrics
from rag.routes_chat import ChatController, chat_socket
from rag.routes_documents import DocumentsController
from rag.services import RagServices, build_services, running
from voice_server.plugin import PackagePlugin
from voice_server.runtime import BRAIN, DATABASE, USAGE_RECORDER, Slot, provide, runtime_of
from voice_server.settings import Settings
from voice_server.turns import QUOTA, TURNS

RAG: Slot[RagServices] = Slot("rag", "the knowledge service is starting or stopping; retry shortly")


def plugin(settings: Settings) -> PackagePlugin:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        runtime = runtime_of(app)
        services = build_services(settings, runtime.get(DATABASE).pool)
        services.attach_metrics(RagMetrics.register(runtime.metrics))
        # Billing's lifespan (before ours) publishes the ledger and the quota; without billing
        # chat questions are neither counted nor limited.
        services.conversations.usage = runtime.find(USAGE_RECORDER)
        async with running(services):
            with (
                runtime.holding(RAG, services),
                # A substitute brain (tests) answers chat, the preview and voice alike.
                runtime.holding(BRAIN, services.brain) as brain,
                runtime.holding(TURNS, ChatTurns(services, brain, runtime.find(QUOTA))),
            ):
                yield

    return PackagePlugin(
        name="rag",
        route_handlers=[DocumentsController, ChatController, chat_socket],
        dependencies={
            "rag": provide(RAG),
            "brain": provide(BRAIN),
            "turns": provide(TURNS),
        },
        lifespans=[lifespan],
    )
