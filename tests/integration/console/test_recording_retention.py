"""Recordings go with their conversation and expire with their tenant's retention."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path

import asyncpg

from tests.integration.console.conftest import Console
from tests.integration.dashboard import seed
from voice_server.settings import Settings
from voice_server.voice.recording_store import RecordingStore
from voice_server.voice.recordings import IN_PROGRESS_GRACE_S, sweep


async def _recording(
    conn: asyncpg.Connection, store: RecordingStore, tenant_id: uuid.UUID, conversation: uuid.UUID,
    age_days: int = 0,
) -> Path:  # fmt: skip
    recording_id = uuid.uuid4()
    key = store.key_for(tenant_id, recording_id)
    path = store.path(key)
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(path.write_bytes, b"OggS fake")
    await conn.execute(
        """INSERT INTO call_recordings (id, tenant_id, conversation_id, storage_key, layout,
               created_at) VALUES ($1, $2, $3, $4, 'mixed', now() - make_interval(days => $5))""",
        recording_id,
        tenant_id,
        conversation,
        key,
        age_days,
    )
    return path


async def test_retention_orphans_and_deletion_with_the_conversation(
    console: Console, database_url: str, settings: Settings
) -> None:
    store = RecordingStore(settings.data_dir / "recordings")
    await console.get("/console/team")
    assert (
        await console.post("/console/team/recording-retention", {"retention_days": "7"})
    ).status_code == 303
    await console.get("/console/bots/new")
    bot_id = uuid.UUID(
        (await console.post("/console/bots/new", {"name": "B"}))
        .headers["location"]
        .rsplit("/", 1)[1]
    )
    conn = await asyncpg.connect(database_url)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        tenant_id = await conn.fetchval("SELECT tenant_id FROM bots WHERE id = $1", bot_id)
        assert (
            await conn.fetchval(
                "SELECT recording_retention_days FROM tenants WHERE id = $1", tenant_id
            )
            == 7
        )
        talks = [
            (
                await seed.conversation(conn, tenant_id, bot_id, [("q", "a")], channel="voice")
            ).conversation_id
            for _ in range(3)
        ]
        fresh = await _recording(conn, store, tenant_id, talks[0], age_days=1)
        old = await _recording(conn, store, tenant_id, talks[1], age_days=8)
        deleted_with = await _recording(conn, store, tenant_id, talks[2])

        # Deleting a conversation in the console deletes its recording at once.
        await console.get(f"/console/conversations/{talks[2]}")
        gone = await console.post(f"/console/conversations/{talks[2]}/delete")
        assert gone.status_code == 303
        assert not deleted_with.exists()

        # A conversation deleted elsewhere (the JSON API, a deleted bot) leaves an orphan file;
        # the sweeper removes it once it is clearly not a call in progress.
        orphan = await _recording(conn, store, tenant_id, talks[0])
        await conn.execute("DELETE FROM call_recordings WHERE storage_key LIKE $1",
                           f"%{orphan.name}")  # fmt: skip
        later = time.time() + IN_PROGRESS_GRACE_S + 60
        os.utime(fresh, (time.time(), time.time()))
        assert await sweep(pool, store, now=later) == 2  # the expired one and the orphan
        assert fresh.exists()
        assert not old.exists()
        assert not orphan.exists()
        assert await conn.fetchval("SELECT count(*) FROM call_recordings") == 1
    finally:
        await pool.close()
        await conn.close()
