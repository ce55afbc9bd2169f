"""Call recordings of voice sessions: when a bot records calls, a session gets a
:class:`SessionRecording` (timestamps from the session's clock), and when it ends the file is
finished off the event loop and listed in ``call_recordings`` for the console to stream.

The session's side is three calls: ``feed_caller(pcm)``, ``feed_bot(pcm)``, ``await finish()``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from voice_server.brain import BotProfile
from voice_server.voice.recording import CallRecorder
from voice_server.voice.recording_store import RecordingStore
from voice_server.voice.store import StoredSession

_log = logging.getLogger("parley.voice.recording")


def recording_wanted(bot: BotProfile) -> tuple[bool, str]:
    """(on, layout) from the bot's ``recording`` settings (voice_server.bot_config)."""
    raw: Any = bot.config.get("recording") or {}
    if not isinstance(raw, dict) or raw.get("enabled") is not True:
        return False, "stereo"
    layout = raw.get("layout")
    return True, layout if layout in ("stereo", "mixed") else "stereo"


@dataclass
class SessionRecording:
    recorder: CallRecorder
    recording_id: UUID
    key: str
    tenant_id: UUID
    stored: StoredSession
    started: float
    clock: Callable[[], float]
    pool: asyncpg.Pool

    def feed_caller(self, pcm: bytes) -> None:
        self.recorder.feed_caller(pcm, self.clock() - self.started)

    def feed_bot(self, pcm: bytes) -> None:
        self.recorder.feed_bot(pcm, self.clock() - self.started)

    async def finish(self) -> None:
        """Close the file and list it; a failure is logged, never raised into the session."""
        try:
            result = await self.recorder.close()
            await self.pool.execute(
                """INSERT INTO call_recordings (id, tenant_id, conversation_id, voice_session_id,
                       storage_key, layout, duration_s, size_bytes)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
                self.recording_id,
                self.tenant_id,
                self.stored.conversation_id,
                self.stored.session_id,
                self.key,
                self.recorder.layout,
                result.duration_s,
                result.size_bytes,
            )
        except Exception:
            _log.exception("could not save the call recording of %s", self.stored.session_id)


class CallRecordings:
    def __init__(self, pool: asyncpg.Pool, store: RecordingStore) -> None:
        self.pool = pool
        self.store = store

    def start(
        self,
        bot: BotProfile,
        stored: StoredSession,
        *,
        input_rate: int,
        channels: int,
        output_rate: int,
        clock: Callable[[], float],
    ) -> SessionRecording | None:
        on, layout = recording_wanted(bot)
        if not on:
            return None
        recording_id = uuid.uuid4()
        key = self.store.key_for(bot.tenant_id, recording_id)
        path: Path = self.store.path(key)
        recorder = CallRecorder(
            path,
            caller_rate=input_rate,
            bot_rate=output_rate,
            layout="mixed" if layout == "mixed" else "stereo",
            caller_channels=channels,
        )
        return SessionRecording(
            recorder, recording_id, key, bot.tenant_id, stored, clock(), clock, self.pool
        )


# A file younger than this may belong to a call still in progress (its row is written when the
# call ends), so the sweeper leaves it alone even without a row.
IN_PROGRESS_GRACE_S = 6 * 3600


async def sweep(pool: asyncpg.Pool, store: RecordingStore, *, now: float | None = None) -> int:
    """Delete recordings past their tenant's retention (rows and files), and files whose row is
    gone (their conversation or bot was deleted). Returns the number of files deleted."""
    expired = await pool.fetch(
        """DELETE FROM call_recordings r USING tenants t
           WHERE t.id = r.tenant_id
             AND r.created_at < now() - make_interval(days => t.recording_retention_days)
           RETURNING r.storage_key"""
    )
    deleted = 0
    for row in expired:
        await store.delete(row["storage_key"])
        deleted += 1
    known = {r["storage_key"] for r in await pool.fetch("SELECT storage_key FROM call_recordings")}
    for key in await store.keys_older_than(IN_PROGRESS_GRACE_S, now=now):
        if key not in known:
            await store.delete(key)
            deleted += 1
    return deleted
