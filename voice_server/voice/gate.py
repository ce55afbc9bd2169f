"""Who may open a voice session: the caller's principal when the handshake carries credentials.

The WebSocket handshake carries credentials the way the rest of the API does (a publishable key
in ``?key=`` or ``X-Parley-Key`` with ``Origin``; a secret key or user token in
``Authorization``). A voice session accepts the connection first and then reports a typed
error with a close code, so the principal is resolved here, after ``accept``, by calling the
app's ``principal`` dependency (provided by the accounts package) with the handshake's scope;
voice knows nothing about keys. A handshake without credentials may still name a bot by id
alone (until keys are required; see docs/voice-protocol.md).
"""

from __future__ import annotations

import inspect
from typing import Any

from litestar import WebSocket
from litestar.di import Provide

from voice_server.errors import Forbidden, Unauthenticated
from voice_server.principal import Principal
from voice_server.voice.protocol import (
    CLOSE_FORBIDDEN,
    CLOSE_INTERNAL,
    CLOSE_UNAUTHENTICATED,
    ProtocolViolation,
)


def carries_credentials(socket: WebSocket[Any, Any, Any]) -> bool:
    headers = socket.headers
    return bool(
        headers.get("authorization")
        or headers.get("x-parley-key")
        or socket.query_params.get("key")
    )


async def resolve_principal(socket: WebSocket[Any, Any, Any]) -> Principal | None:
    """The caller, or None when the handshake carries no credentials. Raises
    :class:`ProtocolViolation` with close 4401/4403 for bad credentials."""
    if not carries_credentials(socket):
        return None
    providers = {
        name: value if isinstance(value, Provide) else Provide(value, sync_to_thread=False)
        for name, value in socket.app.dependencies.items()
    }
    if "principal" not in providers:
        raise ProtocolViolation(
            "auth_unavailable", "this server cannot check credentials", close=CLOSE_INTERNAL
        )
    try:
        principal = await _call(providers, "principal", socket, set())
    except Unauthenticated as exc:
        raise ProtocolViolation(
            "unauthenticated", exc.detail, close=CLOSE_UNAUTHENTICATED
        ) from None
    except Forbidden as exc:
        raise ProtocolViolation("forbidden", exc.detail, close=CLOSE_FORBIDDEN) from None
    if not isinstance(principal, Principal):
        raise ProtocolViolation(
            "auth_unavailable", "this server cannot check credentials", close=CLOSE_INTERNAL
        )
    return principal


async def _call(
    providers: dict[str, Provide], name: str, socket: WebSocket[Any, Any, Any], seen: set[str]
) -> Any:
    """Call app-level dependency ``name``, resolving its own dependencies by name the way
    Litestar does for a handler (scope, state and socket are the connection's)."""
    if name in seen:
        raise RuntimeError(f"dependency cycle at {name}")
    provider = providers[name]
    kwargs: dict[str, Any] = {}
    for parameter in inspect.signature(provider.dependency).parameters:
        if parameter == "scope":
            kwargs[parameter] = socket.scope
        elif parameter == "state":
            kwargs[parameter] = socket.app.state
        elif parameter in ("socket", "request"):
            kwargs[parameter] = socket
        else:
            kwargs[parameter] = await _call(providers, parameter, socket, seen | {name})
    return await provider(**kwargs)
