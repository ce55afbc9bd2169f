"""``last_used_at`` of API keys, written at most once per interval per key and server."""

from __future__ import annotations

import time
from collections.abc import Callable
from uuid import UUID

from dashboard_api.repositories import api_keys
from voice_server.db.types import Connection

_MAX_TRACKED = 50_000


class KeyUsage:
    def __init__(self, min_interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._written: dict[UUID, float] = {}

    def due(self, key_id: UUID) -> bool:
        last = self._written.get(key_id)
        return last is None or self._clock() - last >= self._min_interval_s

    async def record(self, conn: Connection, tenant_id: UUID, key_id: UUID) -> None:
        if not self.due(key_id):
            return
        if len(self._written) >= _MAX_TRACKED:
            self._written.clear()  # costs one extra write per key, bounds memory
        self._written[key_id] = self._clock()
        await api_keys.touch_last_used(conn, tenant_id, key_id)
