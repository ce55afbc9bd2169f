"""Which voice sessions are alive, and what a starting server closes after a crash.

A voice session's row stays open (``ended_at IS NULL``) for as long as its call lives. When the
server is killed (``kill -9``, OOM, power) nothing closes it, so the server holding calls marks
them seen: :class:`PgLiveness` refreshes ``last_seen_at`` of all of them in one UPDATE every
``PARLEY_VOICE_HEARTBEAT_S`` (driven by :class:`~voice_server.voice.manager.SessionManager`).
Billing counts a session as in use only while it was seen within ``PARLEY_VOICE_LIVENESS_S``.

At start-up, :func:`close_leftovers` ends what a previous run left open, with reason
``server_restart``: at once the sessions stamped with this server's own ``instance_id`` (they
cannot be alive: this is that server, restarted), and any other replica's only once they have
not been seen for the liveness window. Only the rows are closed; what was being said when the
server died is lost with it and is not made up (no message is written).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

import asyncpg

from voice_server.settings import Settings

_log = logging.getLogger("parley.voice")

END_REASON = "server_restart"
LiveRow = tuple[UUID, UUID]  # (tenant_id, voice session id)


class Liveness(Protocol):
    async def touch(self, rows: Sequence[LiveRow]) -> None:
        """Mark these sessions seen now (and held by this server)."""


def instance_id(settings: Settings) -> str:
    """This server's name: stable across restarts of the same server, distinct per replica."""
    return settings.instance_id or f"{socket.gethostname()}:{settings.port}"


class PgLiveness:
    def __init__(self, pool: asyncpg.Pool, instance: str) -> None:
        self._pool = pool
        self.instance = instance

    async def touch(self, rows: Sequence[LiveRow]) -> None:
        if not rows:
            return
        tenants, sessions = zip(*rows, strict=True)
        await self._pool.execute(
            """UPDATE voice_sessions v SET last_seen_at = now(), instance_id = $3
               FROM unnest($1::uuid[], $2::uuid[]) AS live (tenant_id, id)
               WHERE v.tenant_id = live.tenant_id AND v.id = live.id AND v.ended_at IS NULL""",
            list(tenants),
            list(sessions),
            self.instance,
        )


async def close_leftovers(pool: asyncpg.Pool, instance: str, liveness_s: float) -> int:
    """End the voice sessions (and their conversations) a crashed run left open; how many."""
    async with pool.acquire() as conn, conn.transaction():
        closed = await conn.fetch(
            """WITH gone AS (
                   UPDATE voice_sessions SET ended_at = last_seen_at, end_reason = $3
                   WHERE ended_at IS NULL
                     AND (instance_id = $1 OR last_seen_at < now() - make_interval(secs => $2))
                   RETURNING tenant_id, id, conversation_id, last_seen_at
               ), conversations_closed AS (
                   UPDATE conversations c SET ended_at = gone.last_seen_at
                   FROM gone
                   WHERE c.tenant_id = gone.tenant_id AND c.id = gone.conversation_id
                     AND c.ended_at IS NULL
                   RETURNING c.id
               )
               SELECT id FROM gone""",
            instance,
            liveness_s,
            END_REASON,
        )
    if closed:
        _log.warning(
            "closed %d voice sessions left open by a previous run (%s)", len(closed), END_REASON
        )
    return len(closed)
