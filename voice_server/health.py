"""Liveness, readiness and metrics endpoints."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from litestar import Controller, Request, Response, get
from litestar.datastructures import State

from voice_server.db import Database
from voice_server.db.migrations import Migration, is_current
from voice_server.drain import Drain, ServerDraining
from voice_server.errors import DatabaseUnavailable, ServiceUnavailable
from voice_server.metrics import Metrics

_log = logging.getLogger("parley.health")


class HealthController(Controller):
    tags = ["operations"]

    @get("/healthz", summary="The process is alive", cache=False)
    async def healthz(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/readyz", summary="Database reachable and migrations current", cache=False)
    async def readyz(self, state: State) -> dict[str, Any]:
        database: Database | None = state.get("database")
        metrics: Metrics = state.metrics
        migrations: list[Migration] = state.migrations
        drain: Drain | None = state.get("drain")
        if drain is not None and drain.draining:  # at once on SIGTERM: send no new callers
            raise ServerDraining
        if database is None:
            metrics.db_up.set(0)
            raise ServiceUnavailable("the server is still starting")
        try:
            async with database.pool.acquire(timeout=2.0) as conn:
                current = await is_current(conn, migrations)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            metrics.db_up.set(0)
            _log.warning("readiness probe: database unreachable: %s", exc)
            raise DatabaseUnavailable(f"the database is unreachable: {type(exc).__name__}") from exc
        metrics.db_up.set(1)
        if not current:
            raise ServiceUnavailable(
                "database migrations are not current; run `parley migrate`",
                migrations_expected=migrations[-1].version if migrations else 0,
            )
        return {"status": "ready", "migrations": migrations[-1].version if migrations else 0}

    @get("/metrics", summary="Prometheus metrics", include_in_schema=False, cache=False)
    async def metrics(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        metrics: Metrics = request.app.state.metrics
        return Response(metrics.render(), media_type=metrics.content_type)
