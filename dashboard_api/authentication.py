"""Who is calling: credentials on an HTTP request or WebSocket handshake -> a Principal.

    Authorization: Bearer psk_...      secret key (servers)
    Authorization: Bearer <jwt>        user access token (the dashboard)
    X-Parley-Key: ppk_...  or ?key=    publishable widget key, bound to one bot; the Origin
                                       header must be one of the key's allowed origins

Unknown, revoked or malformed credentials are Unauthenticated (401); a valid publishable key
used from a foreign or missing Origin is Forbidden (403).
"""

from __future__ import annotations

import re
from uuid import UUID

from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.types import Scope

from dashboard_api import accounts
from dashboard_api.client_ip import client_ip
from dashboard_api.external_identity import unverified_issuer
from dashboard_api.keys import key_matches, looks_like_key, parse_key
from dashboard_api.origins import origin_allowed
from dashboard_api.rate_limit_headers import remember
from dashboard_api.ratelimit import Decision
from dashboard_api.repositories import api_keys, sessions
from dashboard_api.repositories.api_keys import ApiKeyRow
from dashboard_api.roles import scopes_for_role
from dashboard_api.services import DashboardServices
from dashboard_api.tokens import AccessClaims
from voice_server.db import Database
from voice_server.db.types import Connection
from voice_server.errors import Forbidden, RateLimited, Unauthenticated
from voice_server.principal import Principal, mark_visitor

_NO_CREDENTIALS = (
    "no credentials: send `Authorization: Bearer <secret key or access token>`, or a widget's "
    "publishable key in `X-Parley-Key`"
)
_BAD_KEY = "unknown or revoked API key"


async def provide_principal(
    scope: Scope,
    database: NamedDependency[Database],
    dashboard_services: NamedDependency[DashboardServices],
) -> Principal:
    """The app-wide ``principal`` dependency (HTTP routes and WebSocket handshakes alike):
    authenticates, then counts the request against the caller's rate limits."""
    connection: ASGIConnection = ASGIConnection(scope)
    principal = await authenticate(connection, database, dashboard_services)
    if principal.kind == "publishable_key":
        mark_visitor(scope)
    await enforce_rate_limits(connection, principal, dashboard_services)
    return principal


def visitor_ip(connection: ASGIConnection, services: DashboardServices) -> str:
    peer = connection.client.host if connection.client else None
    return client_ip(peer, connection.headers.get("x-forwarded-for"), services.trusted_proxies)


async def enforce_rate_limits(
    connection: ASGIConnection, principal: Principal, services: DashboardServices
) -> None:
    subject = principal.key_id or principal.user_id
    buckets = [("key", str(subject)), ("tenant", str(principal.tenant_id))]
    if principal.kind == "publishable_key":
        # The visitor first: a refused visitor must not eat into the key's shared budget.
        ip = visitor_ip(connection, services)
        buckets.insert(0, ("ip", ip))
        bot = _metered_message(connection)
        if bot is not None:
            # One visitor cannot spend a tenant's month: messages per visitor per bot per hour.
            buckets.insert(0, ("visitor_messages", f"{bot}:{ip}"))
    await _check(connection, services, buckets)


# Routes where one request is one chat message a widget visitor sends (per-visitor caps).
_CHAT_MESSAGE = re.compile(r"^/v1/bots/(?P<bot>[0-9a-fA-F-]{36})/chat$")


def _metered_message(connection: ASGIConnection) -> str | None:
    if connection.scope.get("method") != "POST":
        return None
    match = _CHAT_MESSAGE.match(connection.scope["path"])
    return match["bot"].lower() if match else None


class VisitorMessageCap:
    """``voice_server.runtime.VisitorMessages``: the same bucket as HTTP chat's, per message."""

    def __init__(self, services: DashboardServices) -> None:
        self._services = services

    async def count(self, scope: Scope, bot_id: UUID) -> None:
        connection: ASGIConnection = ASGIConnection(scope)
        ip = visitor_ip(connection, self._services)
        await self._services.limiter.check([("visitor_messages", f"{str(bot_id).lower()}:{ip}")])


async def enforce_auth_rate_limit(connection: ASGIConnection, services: DashboardServices) -> None:
    """Sign-up, log-in and refresh: counted per IP, before any password is checked."""
    await _check(connection, services, [("auth", visitor_ip(connection, services))])


async def _check(
    connection: ASGIConnection, services: DashboardServices, buckets: list[tuple[str, str]]
) -> None:
    try:
        decision = await services.limiter.check(buckets)
    except RateLimited as exc:
        remember(connection.scope, Decision(False, exc.extensions["limit"], 0, exc.retry_after_s))
        raise
    remember(connection.scope, decision)


async def authenticate(
    connection: ASGIConnection, database: Database, services: DashboardServices
) -> Principal:
    """Usable directly by a WebSocket handler that wants to accept first and report a typed
    error event instead of refusing the handshake."""
    authorization = connection.headers.get("authorization")
    widget_key = connection.headers.get("x-parley-key") or connection.query_params.get("key")
    async with database.pool.acquire() as conn:
        if authorization is not None:
            scheme, _, credential = authorization.strip().partition(" ")
            credential = credential.strip()
            if scheme.lower() != "bearer" or not credential:
                raise Unauthenticated("the Authorization header must be `Bearer <credential>`")
            if credential.startswith("ppk_"):
                return await _publishable_key(conn, services, credential, connection)
            if looks_like_key(credential):
                return await _secret_key(conn, services, credential)
            return await _user_token(conn, services, credential)
        if widget_key:
            if widget_key.startswith("psk_"):
                # A secret key in a URL or a browser header would end up in logs and page source.
                raise Unauthenticated("secret keys go in `Authorization: Bearer`, never in the URL")
            return await _publishable_key(conn, services, widget_key, connection)
    raise Unauthenticated(_NO_CREDENTIALS)


async def _find_key(conn: Connection, text: str, kind: str) -> ApiKeyRow:
    parsed = parse_key(text)
    if parsed is None or parsed.kind != kind:
        raise Unauthenticated(_BAD_KEY)
    row = await api_keys.find_by_prefix(conn, parsed.prefix)
    if row is None or row.kind != kind or not key_matches(text, row.key_hash):
        raise Unauthenticated(_BAD_KEY)
    if row.revoked_at is not None:
        raise Unauthenticated(_BAD_KEY)
    return row


async def _secret_key(conn: Connection, services: DashboardServices, text: str) -> Principal:
    row = await _find_key(conn, text, "secret")
    await services.key_usage.record(conn, row.tenant_id, row.id)
    return Principal(
        tenant_id=row.tenant_id, kind="secret_key", key_id=row.id, scopes=frozenset(row.scopes)
    )


async def _publishable_key(
    conn: Connection, services: DashboardServices, text: str, connection: ASGIConnection
) -> Principal:
    row = await _find_key(conn, text, "publishable")
    origin = connection.headers.get("origin")
    if not origin_allowed(
        origin, row.allowed_origins, allow_localhost=services.allow_localhost_origins
    ):
        if not origin:
            raise Forbidden("a publishable key is only accepted with an Origin header")
        raise Forbidden(f"this key may not be used from {origin}; add it to the key's origins")
    await services.key_usage.record(conn, row.tenant_id, row.id)
    return Principal(
        tenant_id=row.tenant_id,
        kind="publishable_key",
        key_id=row.id,
        bot_id=row.bot_id,
        scopes=frozenset(row.scopes),
    )


async def _user_token(conn: Connection, services: DashboardServices, token: str) -> Principal:
    external = services.external
    if external is not None and unverified_issuer(token) == external.issuer:
        identity = await external.verify(token)
        user = await accounts.external_user(conn, identity, services.signup)
        return Principal(
            tenant_id=user.tenant_id,
            kind="user",
            user_id=user.id,
            role=user.role,
            scopes=scopes_for_role(user.role),
        )
    claims = services.tokens.verify(token)
    active = await sessions.get_active(conn, claims.tenant_id, claims.session_id, claims.user_id)
    if active is None:
        raise Unauthenticated("this session has ended; log in again")
    return Principal(
        tenant_id=claims.tenant_id,
        kind="user",
        user_id=active.user_id,
        role=active.role,
        scopes=scopes_for_role(active.role),
    )


def access_claims(connection: ASGIConnection, services: DashboardServices) -> AccessClaims:
    """The claims of the user access token this request carries (log-out needs its session)."""
    scheme, _, credential = (connection.headers.get("authorization") or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not credential.strip() or looks_like_key(credential.strip()):
        raise Unauthenticated("this action needs a user access token")
    return services.tokens.verify(credential.strip())
