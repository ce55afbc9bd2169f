"""Bots: create, change, copy, delete, and the widget's embed code."""

from __future__ import annotations

import html
from typing import Any
from uuid import UUID

import msgspec

from dashboard_api.bot_schema import (
    COLUMN_FIELDS,
    CONFIG_FIELDS,
    Appearance,
    BotCreate,
    BotOut,
    BotUpdate,
    LlmSettings,
    VoiceSettings,
)
from dashboard_api.key_management import check_origins, create_publishable_key
from dashboard_api.repositories import api_keys, bots
from dashboard_api.repositories.bots import BotRow
from voice_server.db.types import Connection
from voice_server.errors import Conflict, InvalidInput, NotFound

WIDGET_SCRIPT_PATH = "/widget/parley.js"


def _origins(values: list[str]) -> list[str]:
    if not values:
        return []
    return check_origins(values)


def bot_out(row: BotRow) -> BotOut:
    config = row.config

    def nested(name: str, kind: type[Any]) -> Any:
        try:
            return msgspec.convert(config.get(name) or {}, kind)
        except msgspec.ValidationError:
            return kind()  # a row written by an older version: fall back to defaults

    return BotOut(
        id=row.id,
        name=row.name,
        system_prompt=row.system_prompt,
        greeting=row.greeting,
        language=row.language,
        starter_questions=list(config.get("starter_questions", [])),
        llm=nested("llm", LlmSettings),
        voice=nested("voice", VoiceSettings),
        end_of_turn_silence_ms=int(config.get("end_of_turn_silence_ms", 700)),
        knowledge_scope=str(config.get("knowledge_scope", "tenant")),
        appearance=nested("appearance", Appearance),
        allowed_origins=list(config.get("allowed_origins", [])),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def get_bot(conn: Connection, tenant_id: UUID, bot_id: UUID) -> BotRow:
    row = await bots.get(conn, tenant_id, bot_id)
    if row is None:
        raise NotFound("no such bot")
    return row


async def create_bot(conn: Connection, tenant_id: UUID, data: BotCreate) -> BotRow:
    fields = msgspec.to_builtins(data)
    fields["allowed_origins"] = _origins(data.allowed_origins)
    return await bots.create(
        conn,
        tenant_id=tenant_id,
        name=data.name.strip() or data.name,
        system_prompt=data.system_prompt,
        greeting=data.greeting,
        language=data.language,
        config={k: fields[k] for k in CONFIG_FIELDS},
    )


async def update_bot(conn: Connection, tenant_id: UUID, bot_id: UUID, patch: BotUpdate) -> BotRow:
    changes = msgspec.to_builtins(patch)  # UNSET fields are left out
    if not changes:
        raise InvalidInput("nothing to change: send at least one field")
    if "allowed_origins" in changes:
        changes["allowed_origins"] = _origins(changes["allowed_origins"])
    async with conn.transaction():
        row = await bots.update(
            conn,
            tenant_id,
            bot_id,
            columns={k: v for k, v in changes.items() if k in COLUMN_FIELDS},
            config={k: v for k, v in changes.items() if k in CONFIG_FIELDS},
        )
        if row is None:
            raise NotFound("no such bot")
        if "allowed_origins" in changes:
            await api_keys.set_bot_origins(conn, tenant_id, bot_id, changes["allowed_origins"])
    return row


async def duplicate_bot(conn: Connection, tenant_id: UUID, bot_id: UUID) -> BotRow:
    """A copy of the bot's settings (not its keys, documents or conversations)."""
    source = await get_bot(conn, tenant_id, bot_id)
    return await bots.create(
        conn,
        tenant_id=tenant_id,
        name=f"{source.name} (copy)"[:200],
        system_prompt=source.system_prompt,
        greeting=source.greeting,
        language=source.language,
        config=source.config,
    )


async def delete_bot(conn: Connection, tenant_id: UUID, bot_id: UUID) -> None:
    """Deletes the bot with its keys, conversations and bot-only documents (cascade)."""
    if not await bots.delete(conn, tenant_id, bot_id):
        raise NotFound("no such bot")


async def embed_snippet(
    conn: Connection,
    tenant_id: UUID,
    bot_id: UUID,
    *,
    base_url: str,
    created_by: UUID | None,
    script_path: str = WIDGET_SCRIPT_PATH,
    integrity: str | None = None,
) -> tuple[str, str]:
    """The ``<script>`` tag for the bot and the publishable key it carries (made if missing)."""
    bot = await get_bot(conn, tenant_id, bot_id)
    key = await api_keys.newest_publishable_for_bot(conn, tenant_id, bot_id)
    if key is None:
        if not bot.config.get("allowed_origins"):
            raise Conflict(
                "add the website's origin to the bot's allowed_origins first",
                field="allowed_origins",
            )
        created = await create_publishable_key(
            conn, tenant_id, bot_id=bot_id, name="widget", created_by=created_by
        )
        display_key = created.key
    else:
        assert key.display_key is not None
        display_key = key.display_key
    src = base_url.rstrip("/") + script_path
    # The versioned script is cached for a year; its SRI hash pins the exact bytes.
    sri = f'integrity="{integrity}" crossorigin="anonymous" ' if integrity else ""
    snippet = (
        f'<script src="{html.escape(src)}" {sri}data-bot-id="{bot_id}" '
        f'data-key="{display_key}" async></script>'
    )
    return snippet, display_key
