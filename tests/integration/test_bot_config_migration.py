"""0320 moves stored bot configs to the one name per setting (voice_server/bot_config.py)."""

from __future__ import annotations

import json

import asyncpg

from voice_server.bot_config import BotConfig
from voice_server.db.migrations import load_migrations, migrate
from voice_server.db.pool import ensure_vector_extension

OLD_ROWS = {
    "dashboard": {"voice": {"provider": None, "voice_id": "en-gb", "speed": 1.2},
                  "end_of_turn_silence_ms": 2000, "knowledge_scope": "bot"},
    "voice": {"voice": {"voice": "aura-2-luna-en", "end_of_turn_silence_ms": 900}},
    "both": {"voice": {"voice": "old", "voice_id": "new", "end_of_turn_silence_ms": 800},
             "end_of_turn_silence_ms": 1500},
    "null_id": {"voice": {"voice_id": None, "voice": "kept"}},
    "odd_voice": {"voice": "loud", "end_of_turn_silence_ms": 1200},
    "untouched": {"starter_questions": ["Hours?"]},
}  # fmt: skip


async def test_stored_configs_move_to_the_one_names(empty_database_url: str) -> None:
    migrations = load_migrations()
    conn = await asyncpg.connect(empty_database_url)
    try:
        await ensure_vector_extension(conn, empty_database_url)
        await migrate(conn, [m for m in migrations if m.version < 320])
        tenant = await conn.fetchval(
            "INSERT INTO tenants (name, slug) VALUES ('A', 'a') RETURNING id"
        )
        for name, config in OLD_ROWS.items():
            await conn.execute(
                "INSERT INTO bots (tenant_id, name, config) VALUES ($1, $2, $3::jsonb)",
                tenant,
                name,
                json.dumps(config),
            )
        await migrate(conn, migrations)
        rows = {
            r["name"]: json.loads(r["config"])
            for r in await conn.fetch("SELECT name, config FROM bots")
        }
    finally:
        await conn.close()
    assert rows["dashboard"] == {
        "voice": {"voice_id": "en-gb", "speed": 1.2, "end_of_turn_silence_ms": 2000},
        "knowledge_scope": "bot",
    }
    assert rows["voice"] == {"voice": {"voice_id": "aura-2-luna-en", "end_of_turn_silence_ms": 900}}
    assert rows["both"] == {"voice": {"voice_id": "new", "end_of_turn_silence_ms": 800}}
    assert rows["null_id"] == {"voice": {"voice_id": "kept"}}
    assert rows["odd_voice"] == {"voice": {"end_of_turn_silence_ms": 1200}}
    assert rows["untouched"] == OLD_ROWS["untouched"]
    # What the migration left is what the reader makes of the old rows.
    for name, config in OLD_ROWS.items():
        assert BotConfig.from_stored(rows[name]) == BotConfig.from_stored(config), name
