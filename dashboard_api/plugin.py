"""What `dashboard_api` contributes to the app (see voice_server.plugin). Published in the
runtime while it runs: its services (``DASHBOARD``) and the kernel's ``VISITOR_LEASES`` (the
widget visitors' voice-session slots, which a WebRTC call holds past its offer request)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Router
from litestar.di import Provide

from dashboard_api.api.analytics import feedback, tenant_analytics
from dashboard_api.api.auth import AuthController
from dashboard_api.api.bots import BotsController
from dashboard_api.api.conversations import ConversationsController
from dashboard_api.api.keys import KeysController
from dashboard_api.api.me import whoami
from dashboard_api.api.members import InvitationsController, MembersController
from dashboard_api.api.usage import usage
from dashboard_api.api.voice_sessions import issue_voice_session
from dashboard_api.authentication import VisitorMessageCap, provide_principal
from dashboard_api.services import DASHBOARD, lifespan
from dashboard_api.text_errors import text_exception_handlers
from dashboard_api.voice_access import ScopeLeases, provide_voice_principal
from voice_server.plugin import PackagePlugin
from voice_server.runtime import (
    DATABASE,
    VISITOR_LEASES,
    VISITOR_MESSAGES,
    provide,
    runtime_of,
)
from voice_server.settings import Settings


@asynccontextmanager
async def leases_lifespan(app: Litestar) -> AsyncIterator[None]:
    runtime = runtime_of(app)
    leases = ScopeLeases(runtime.get(DASHBOARD), runtime.get(DATABASE))
    messages = VisitorMessageCap(runtime.get(DASHBOARD))
    with runtime.holding(VISITOR_LEASES, leases), runtime.holding(VISITOR_MESSAGES, messages):
        yield


def plugin(settings: Settings) -> PackagePlugin:
    return PackagePlugin(
        name="dashboard_api",
        route_handlers=[
            Router(
                path="/",
                route_handlers=[
                    AuthController,
                    whoami,
                    BotsController,
                    KeysController,
                    ConversationsController,
                    tenant_analytics,
                    feedback,
                    MembersController,
                    InvitationsController,
                    usage,
                    issue_voice_session,
                ],
                exception_handlers=text_exception_handlers(),
            )
        ],
        dependencies={
            "dashboard_services": provide(DASHBOARD),
            "principal": Provide(provide_principal),
            # What voice transports ask for (voice_server.voice.gate): session tokens included.
            "voice_principal": Provide(provide_voice_principal),
        },
        lifespans=[lifespan(settings), leases_lifespan],
    )
