"""A conversation's call recording, streamed to the tenant's signed-in users only (the console
cookie; never an API key, so never a publishable widget key), with Range requests so players
can seek."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream

from dashboard_api.console.ranges import byte_range
from dashboard_api.console.web import ConsoleUser
from dashboard_api.guards import require_scope
from voice_server.db import Database
from voice_server.db.types import Connection
from voice_server.errors import NotFound
from voice_server.runtime import runtime_of
from voice_server.voice.recording_store import RecordingStore
from voice_server.voice.services import RECORDINGS

CHUNK = 64 * 1024


async def find_recording(
    conn: Connection, tenant_id: UUID, conversation_id: UUID
) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        """SELECT id, storage_key, mime_type, layout, duration_s, size_bytes, created_at
           FROM call_recordings WHERE tenant_id = $1 AND conversation_id = $2
           ORDER BY created_at DESC LIMIT 1""",
        tenant_id,
        conversation_id,
    )
    return dict(row) if row else None


class RecordingPages(Controller):
    path = "/conversations"

    @get("/{conversation_id:uuid}/recording")
    async def recording(
        self,
        request: Request[Any, Any, Any],
        conversation_id: FromPath[UUID],
        console_user: NamedDependency[ConsoleUser],
        database: NamedDependency[Database],
    ) -> Stream:
        require_scope(console_user.principal, "conversations:read")
        async with database.pool.acquire() as conn:
            found = await find_recording(conn, console_user.tenant_id, conversation_id)
        store: RecordingStore = runtime_of(request.app).get(RECORDINGS)
        if found is None or not await store.exists(found["storage_key"]):
            raise NotFound("no recording of this conversation")
        size = await store.size(found["storage_key"])
        wanted = byte_range(request.headers.get("range"), size)
        first, last = wanted if wanted is not None else (0, size - 1)

        async def body() -> AsyncIterator[bytes]:
            async for chunk in store.read(found["storage_key"], first, last + 1, CHUNK):
                yield chunk

        headers = {
            "Accept-Ranges": "bytes",
            "Content-Length": str(last - first + 1),
            "Cache-Control": "private, no-store",
        }
        if wanted is not None:
            headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        return Stream(
            body(),
            media_type=found["mime_type"],
            status_code=206 if wanted is not None else 200,
            headers=headers,
        )
