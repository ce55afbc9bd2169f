"""The zero-key demo: a tenant with one bot, a small knowledge base about Parley itself and a
publishable key for the server's own origins, created once (idempotently) when ``PARLEY_DEMO``
is on, and removed when it is off, so a server with the demo off never has it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.resources import files
from typing import Any
from uuid import UUID

from dashboard_api.key_management import create_publishable_key
from dashboard_api.repositories import api_keys, bots
from rag.ingestion import IngestionService
from voice_server.db.types import Connection
from voice_server.settings import Settings

_log = logging.getLogger("parley.demo")

DEMO_SLUG = "parley-demo"  # tenants made by sign-up always get a random suffix: no clash
DEMO_TITLE = "About Parley"
_LOCK = 0x7061726C  # "parl": one seeder at a time when replicas start together

DEMO_BOT: dict[str, Any] = {
    "name": "Parley demo",
    "greeting": "Hi! I'm the Parley demo. Ask me anything about Parley: press Call to talk, "
    "or type below.",
    "starter_questions": [
        "What database does Parley use?",
        "Can I interrupt the bot?",
        "How much does self-hosting cost?",
    ],
    "appearance": {
        "primary_color": "#4f46e5",
        "text_color": "#ffffff",
        "position": "bottom-right",
        "title": "Parley demo",
        "avatar_url": None,
        "launcher_text": "Talk to Parley",
    },
}


@dataclass(frozen=True)
class Demo:
    tenant_id: UUID
    bot_id: UUID
    publishable_key: str


def demo_origins(settings: Settings) -> list[str]:
    """The server's own origins, as a browser on this machine names them."""
    port = settings.port
    origins = [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]
    if settings.public_url:
        origins.append(settings.public_url.rstrip("/"))
    return origins


def demo_knowledge() -> bytes:
    return files("voice_server.web").joinpath("demo_knowledge.md").read_bytes()


async def seed_demo(conn: Connection, ingestion: IngestionService, origins: list[str]) -> Demo:
    """Create what is missing; bring the key's origins up to date (the port may change)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK)
        tenant_id = await conn.fetchval("SELECT id FROM tenants WHERE slug = $1", DEMO_SLUG)
        if tenant_id is None:
            tenant_id = await conn.fetchval(
                "INSERT INTO tenants (name, slug) VALUES ('Parley demo', $1) RETURNING id",
                DEMO_SLUG,
            )
            _log.info("demo tenant created")
        bot_id = await conn.fetchval(
            "SELECT id FROM bots WHERE tenant_id = $1 ORDER BY created_at LIMIT 1", tenant_id
        )
        config = {k: DEMO_BOT[k] for k in ("starter_questions", "appearance")}
        if bot_id is None:
            row = await bots.create(
                conn,
                tenant_id=tenant_id,
                name=DEMO_BOT["name"],
                greeting=DEMO_BOT["greeting"],
                config={**config, "allowed_origins": origins},
            )
            bot_id = row.id
        else:
            await bots.update(
                conn, tenant_id, bot_id, columns={}, config={"allowed_origins": origins}
            )
            await api_keys.set_bot_origins(conn, tenant_id, bot_id, origins)
        key = await api_keys.newest_publishable_for_bot(conn, tenant_id, bot_id)
        if key is None or key.display_key is None:
            created = await create_publishable_key(
                conn, tenant_id, bot_id=bot_id, name="demo widget"
            )
            display_key = created.key
        else:
            display_key = key.display_key
    # Deduplicated by content hash: a restart adds nothing; an edited text is a new document.
    await ingestion.add_bytes(
        tenant_id=tenant_id,
        bot_id=None,
        data=demo_knowledge(),
        source_kind="text",
        source_uri=None,
        title=DEMO_TITLE,
    )
    return Demo(tenant_id=tenant_id, bot_id=bot_id, publishable_key=display_key)


async def remove_demo(conn: Connection) -> bool:
    """Delete the demo tenant with everything it owns (cascade)."""
    deleted = await conn.fetchval("DELETE FROM tenants WHERE slug = $1 RETURNING id", DEMO_SLUG)
    if deleted is not None:
        _log.info("demo tenant removed (PARLEY_DEMO is off)")
    return deleted is not None
