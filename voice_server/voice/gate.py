"""Who may open a voice session: the caller's principal, resolved from the handshake.

Every voice session needs a credential (docs/voice-protocol.md): a single-use session token in
``?token=`` (browsers), or a secret key or user token in ``Authorization`` (servers). Voice
knows nothing about keys: the principal comes from the app's ``voice_principal`` dependency
(provided by the accounts package; it spends tokens and counts session starts), or from the
plain ``principal`` dependency when no package provides the former.

:func:`voice_principal` serves any connection (a WebSocket handshake, or an HTTP request such
as WebRTC signalling) and raises the error tree, which HTTP routes turn into problem JSON;
:func:`resolve_principal` is the WebSocket form, raising :class:`ProtocolViolation` with the
close code of the protocol's table. Anonymous sessions (a bot id and no credential) exist only
for development: ``PARLEY_VOICE_ALLOW_ANONYMOUS`` re-allows them for loopback clients that came
through no proxy.
"""

from __future__ import annotations

import inspect
from typing import Any

from litestar import WebSocket
from litestar.connection import ASGIConnection
from litestar.di import Provide

from voice_server.errors import (
    VISITOR_UNAVAILABLE,
    Forbidden,
    ParleyError,
    QuotaExceeded,
    RateLimited,
    ServiceUnavailable,
    Unauthenticated,
)
from voice_server.principal import Principal
from voice_server.runtime import runtime_if_any
from voice_server.voice.protocol import (
    CLOSE_FORBIDDEN,
    CLOSE_INTERNAL,
    CLOSE_QUOTA,
    CLOSE_TRY_AGAIN,
    CLOSE_UNAUTHENTICATED,
    ProtocolViolation,
)

_LOOPBACK = frozenset({"127.0.0.1", "::1"})
_NO_CREDENTIALS = (
    "a voice session needs a credential: a session token from POST /v1/bots/{bot_id}/sessions "
    "in ?token=, or `Authorization: Bearer <secret key or access token>`"
)
_UNAVAILABLE = "voice conversations cannot check credentials on this server"


def carries_credentials(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    headers, query = connection.headers, connection.query_params
    return bool(
        headers.get("authorization")
        or headers.get("x-parley-key")
        or query.get("key")
        or query.get("token")
    )


def anonymous_allowed(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Development only: the setting is on, the peer is this machine, and no proxy relayed the
    connection (a local reverse proxy would make every visitor look like loopback)."""
    runtime = runtime_if_any(connection.app)
    if runtime is None or not runtime.settings.voice_allow_anonymous:
        return False
    peer = connection.client.host if connection.client else None
    headers = connection.headers
    relayed = any(headers.get(name) for name in ("x-forwarded-for", "forwarded", "x-real-ip"))
    return peer in _LOOPBACK and not relayed


async def voice_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """The caller of a voice session, or None for an allowed anonymous development session.
    Raises Unauthenticated, Forbidden, RateLimited or ServiceUnavailable."""
    if not carries_credentials(connection):
        if anonymous_allowed(connection):
            return None
        raise Unauthenticated(_NO_CREDENTIALS)
    providers = {
        name: value if isinstance(value, Provide) else Provide(value, sync_to_thread=False)
        for name, value in connection.app.dependencies.items()
    }
    name = "voice_principal" if "voice_principal" in providers else "principal"
    if name not in providers:
        raise ServiceUnavailable(_UNAVAILABLE)
    principal = await _call(providers, name, connection, set())
    if not isinstance(principal, Principal):
        raise ServiceUnavailable(_UNAVAILABLE)
    return principal


async def resolve_principal(socket: WebSocket[Any, Any, Any]) -> Principal | None:
    """:func:`voice_principal` for a WebSocket that has been accepted: refusals become
    :class:`ProtocolViolation` carrying the error event's code and the close code."""
    try:
        return await voice_principal(socket)
    except Unauthenticated as exc:
        raise ProtocolViolation(
            "unauthenticated", exc.detail, close=CLOSE_UNAUTHENTICATED
        ) from None
    except Forbidden as exc:
        raise ProtocolViolation("forbidden", exc.detail, close=CLOSE_FORBIDDEN) from None
    except RateLimited as exc:
        raise ProtocolViolation(
            "rate_limited",
            exc.detail,
            close=CLOSE_TRY_AGAIN,
            extra={"retry_after_s": exc.retry_after_s},
        ) from None
    except QuotaExceeded:
        # A visitor's hourly voice allowance: plain words, no plan or usage figures.
        raise ProtocolViolation("unavailable", VISITOR_UNAVAILABLE, close=CLOSE_QUOTA) from None
    except ParleyError as exc:
        raise ProtocolViolation("auth_unavailable", exc.detail, close=CLOSE_INTERNAL) from None


async def _call(
    providers: dict[str, Provide],
    name: str,
    connection: ASGIConnection[Any, Any, Any, Any],
    seen: set[str],
) -> Any:
    """Call app-level dependency ``name``, resolving its own dependencies by name the way
    Litestar does for a handler (scope, state and connection are the connection's)."""
    if name in seen:
        raise RuntimeError(f"dependency cycle at {name}")
    provider = providers[name]
    kwargs: dict[str, Any] = {}
    for parameter in inspect.signature(provider.dependency).parameters:
        if parameter == "scope":
            kwargs[parameter] = connection.scope
        elif parameter == "state":
            kwargs[parameter] = connection.app.state
        elif parameter in ("socket", "request"):
            kwargs[parameter] = connection
        else:
            kwargs[parameter] = await _call(providers, parameter, connection, seen | {name})
    return await provider(**kwargs)
