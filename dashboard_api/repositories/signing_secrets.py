"""The generated token-signing secret, shared by every replica through the database."""

from __future__ import annotations

import secrets

from voice_server.db.types import Connection


async def get_or_create(conn: Connection) -> tuple[bytes, bool]:
    """The stored secret, and whether this call created it (first start of the first replica)."""
    created = await conn.fetchval(
        """INSERT INTO auth_signing_secrets (id, secret) VALUES (1, $1)
           ON CONFLICT (id) DO NOTHING RETURNING true""",
        secrets.token_bytes(64),
    )
    secret: bytes = await conn.fetchval("SELECT secret FROM auth_signing_secrets WHERE id = 1")
    return secret, bool(created)
