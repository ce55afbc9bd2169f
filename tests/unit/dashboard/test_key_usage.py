from __future__ import annotations

import uuid

from dashboard_api.key_usage import KeyUsage


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


class RecordingConnection:
    """Stands in for asyncpg: records the UPDATE statements it is asked to run."""

    def __init__(self) -> None:
        self.updates: list[tuple[object, ...]] = []

    async def execute(self, query: str, *args: object) -> str:
        self.updates.append(args)
        return "UPDATE 1"


async def test_last_used_is_written_once_per_interval() -> None:
    clock = Clock()
    usage = KeyUsage(60, clock=clock)
    conn = RecordingConnection()
    tenant, key = uuid.uuid4(), uuid.uuid4()
    await usage.record(conn, tenant, key)  # type: ignore[arg-type]
    await usage.record(conn, tenant, key)  # type: ignore[arg-type]
    clock.now += 59
    await usage.record(conn, tenant, key)  # type: ignore[arg-type]
    assert len(conn.updates) == 1
    clock.now += 2
    await usage.record(conn, tenant, key)  # type: ignore[arg-type]
    assert len(conn.updates) == 2


async def test_each_key_has_its_own_interval() -> None:
    usage = KeyUsage(60, clock=Clock())
    conn = RecordingConnection()
    await usage.record(conn, uuid.uuid4(), uuid.uuid4())  # type: ignore[arg-type]
    await usage.record(conn, uuid.uuid4(), uuid.uuid4())  # type: ignore[arg-type]
    assert len(conn.updates) == 2
