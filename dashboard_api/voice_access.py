"""Who may start a voice session (WebSocket now, WebRTC signalling too): the ``voice_principal``
dependency.

    ?token=pvt_...                      a session token (browsers): spent here, once
    Authorization: Bearer psk_|<jwt>    a secret key or user token (servers)
    a publishable key                   refused: browsers trade it for a token first

Besides authenticating, a start is counted against the voice-start limits (per visitor IP, per
key, per tenant), and a widget visitor must have room in its concurrent-session cap and its
hourly voice allowance. The visitor's slot is a lease kept in the connection's scope; the
app-wide :func:`voice_lease_middleware` releases it (and notes when the session ended) as the
connection ends, so no transport has to remember to.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.types import ASGIApp, Receive, Scope, Send

from dashboard_api.authentication import authenticate, enforce_rate_limits, visitor_ip
from dashboard_api.services import DASHBOARD, DashboardServices
from dashboard_api.session_tokens import VisitorLease
from voice_server.db import Database
from voice_server.errors import Unauthenticated
from voice_server.principal import Principal, mark_visitor
from voice_server.runtime import DATABASE, runtime_if_any

_log = logging.getLogger("parley.voice_access")
LEASE_KEY = "parley.voice_lease"
_KEY_NOT_TOKEN = (
    "a publishable key cannot open a voice session: get a session token from "
    "POST /v1/bots/{bot_id}/sessions and connect with ?token="
)


def presented_publishable_key(connection: ASGIConnection) -> bool:
    authorization = connection.headers.get("authorization") or ""
    widget_key = connection.headers.get("x-parley-key") or connection.query_params.get("key")
    return bool(widget_key and not widget_key.startswith("psk_")) or (
        authorization.strip().partition(" ")[2].strip().startswith("ppk_")
    )


async def enforce_voice_starts(
    connection: ASGIConnection,
    principal: Principal,
    services: DashboardServices,
    *,
    visitor: str | None,
) -> None:
    """Count one voice session start; RateLimited (429 / close 1013) when a budget is spent."""
    subject = principal.key_id or principal.user_id
    buckets = [("voice_key", str(subject)), ("voice_tenant", str(principal.tenant_id))]
    if visitor is not None:
        buckets.insert(0, ("voice_ip", visitor))
    await services.limiter.check(buckets)


async def provide_voice_principal(
    scope: Scope,
    database: NamedDependency[Database],
    dashboard_services: NamedDependency[DashboardServices],
) -> Principal:
    connection: ASGIConnection = ASGIConnection(scope)
    services = dashboard_services
    token = connection.query_params.get("token")
    if token is not None:
        return await _redeem(connection, database, services, token)
    if presented_publishable_key(connection):
        raise Unauthenticated(_KEY_NOT_TOKEN)
    principal = await authenticate(connection, database, services)
    await enforce_rate_limits(connection, principal, services)
    await enforce_voice_starts(connection, principal, services, visitor=None)
    return principal


async def _redeem(
    connection: ASGIConnection, database: Database, services: DashboardServices, token: str
) -> Principal:
    async with database.pool.acquire() as conn:
        spent = await services.voice_tokens.spend(conn, token, connection.headers.get("origin"))
        if spent.widget:
            # Checked again here: the hour may have been spent between issue and use.
            await services.voice_tokens.check_voice_allowance(
                conn,
                spent.tenant_id,
                spent.bot_id,
                spent.visitor,
                services.visitor_voice_seconds_per_hour,
            )
    if spent.widget:
        mark_visitor(connection.scope)
    principal = Principal(
        tenant_id=spent.tenant_id,
        kind="publishable_key",
        key_id=spent.key_id,
        bot_id=spent.bot_id,
        scopes=frozenset({"chat"}),
    )
    if spent.widget:
        lease = services.visitor_sessions.acquire(
            spent.tenant_id, spent.bot_id, spent.visitor, token
        )
        hold_lease(connection.scope, lease)
    return principal


def hold_lease(scope: Any, lease: VisitorLease) -> None:
    scope.setdefault("state", {}).setdefault(LEASE_KEY, []).append(lease)


def take_leases(scope: Any) -> list[VisitorLease]:
    """The connection's visitor leases, now owned by the caller (a transport whose session
    outlives the request, such as WebRTC signalling, takes them and releases them itself)."""
    leases: list[VisitorLease] = scope.get("state", {}).pop(LEASE_KEY, [])
    return leases


class ScopeLeases:
    """The kernel's ``VisitorLeases`` contract (published in the runtime by the dashboard's
    lifespan): the leases a connection's scope holds, released with the end noted."""

    def __init__(self, services: DashboardServices, database: Database) -> None:
        self.services = services
        self.database = database

    def take(self, scope: Any) -> Callable[[], Awaitable[None]] | None:
        leases = take_leases(scope)
        if not leases:
            return None
        return lambda: release(self.services, self.database, leases)


async def release(
    services: DashboardServices | None, database: Database | None, leases: list[VisitorLease]
) -> None:
    """Free the slots and note when the sessions ended (for the hourly voice allowance)."""
    for lease in leases:
        lease.release()
        if lease.token is None or services is None or database is None:
            continue
        try:
            async with database.pool.acquire() as conn:
                await services.voice_tokens.ended(conn, lease.tenant_id, lease.token)
        except Exception:
            # The slot is free either way; an unrecorded end only overcounts the visitor.
            _log.warning("could not record the end of a voice session", exc_info=True)


def voice_lease_middleware(app: ASGIApp) -> ASGIApp:
    """Release what a connection still holds when it ends: a WebSocket's session, or an HTTP
    request's (signalling) unless its handler took the leases to release them later."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("websocket", "http"):
            await app(scope, receive, send)
            return
        try:
            await app(scope, receive, send)
        finally:
            leases = take_leases(scope)
            if leases:
                runtime = runtime_if_any(scope["app"])
                services = runtime.find(DASHBOARD) if runtime else None
                await release(services, runtime.find(DATABASE) if runtime else None, leases)

    return middleware


__all__ = ["provide_voice_principal", "take_leases", "visitor_ip", "voice_lease_middleware"]
