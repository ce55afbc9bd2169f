"""The per-visitor cap on open voice sessions, and the middleware that frees its slots."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import pytest
from litestar.datastructures import State

from dashboard_api.session_tokens import VisitorSessions
from dashboard_api.voice_access import hold_lease, take_leases, voice_lease_middleware
from voice_server.errors import RateLimited

BOT = uuid4()
TENANT = uuid4()


def test_a_visitor_gets_its_cap_and_no_more_and_slots_come_back_once() -> None:
    sessions = VisitorSessions(2)
    first = sessions.acquire(TENANT, BOT, "203.0.113.1")
    sessions.acquire(TENANT, BOT, "203.0.113.1")
    with pytest.raises(RateLimited) as refused:
        sessions.acquire(TENANT, BOT, "203.0.113.1")
    assert refused.value.extensions["bucket"] == "visitor_sessions"
    sessions.acquire(TENANT, BOT, "203.0.113.2")  # another visitor is not affected
    first.release()
    first.release()  # idempotent: one slot back, not two
    assert sessions.open_count(BOT, "203.0.113.1") == 1
    sessions.acquire(TENANT, BOT, "203.0.113.1")
    with pytest.raises(RateLimited):
        sessions.acquire(TENANT, BOT, "203.0.113.1")


async def _noop_receive() -> dict[str, Any]:
    return {"type": "http.disconnect"}


async def _noop_send(message: Any) -> None:
    return None


@pytest.mark.parametrize("kind", ["http", "websocket"])
async def test_the_middleware_frees_what_a_connection_left_behind(kind: str) -> None:
    sessions = VisitorSessions(1)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        hold_lease(scope, sessions.acquire(TENANT, BOT, "203.0.113.1"))
        raise RuntimeError("the handler failed")  # released all the same

    scope: dict[str, Any] = {"type": kind, "app": SimpleNamespace(state=State({}))}
    with pytest.raises(RuntimeError):
        await voice_lease_middleware(app)(scope, _noop_receive, _noop_send)  # type: ignore[arg-type]
    assert sessions.open_count(BOT, "203.0.113.1") == 0


async def test_a_transport_may_take_the_lease_to_hold_it_past_the_request() -> None:
    sessions = VisitorSessions(1)
    taken: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        hold_lease(scope, sessions.acquire(TENANT, BOT, "203.0.113.1"))
        taken.extend(take_leases(scope))

    scope: dict[str, Any] = {"type": "http", "app": SimpleNamespace(state=State({}))}
    await voice_lease_middleware(app)(scope, _noop_receive, _noop_send)  # type: ignore[arg-type]
    assert sessions.open_count(BOT, "203.0.113.1") == 1
    taken[0].release()
    assert sessions.open_count(BOT, "203.0.113.1") == 0
