"""Bots: create, change, copy, delete, and the widget's embed code."""

from __future__ import annotations

import html
from uuid import UUID

import msgspec

from dashboard_api.bot_schema import (
    COLUMN_FIELDS,
    CONFIG_FIELDS,
    BotCreate,
    BotOut,
    BotUpdate,
    VoiceSettings,
)
from dashboard_api.key_management import check_origins, create_publishable_key
from dashboard_api.repositories import api_keys, bots
from dashboard_api.repositories.bots import BotRow
from voice_server.bot_config import BotConfig, BotVoice
from voice_server.db.types import Connection
from voice_server.errors import Conflict, InvalidInput, NotFound

WIDGET_SCRIPT_PATH = "/widget/parley.js"


def _origins(values: list[str]) -> list[str]:
    if not values:
        return []
    return check_origins(values)


def bot_out(row: BotRow) -> BotOut:
    config = BotConfig.from_stored(row.config)
    return BotOut(
        id=row.id,
        name=row.name,
        system_prompt=row.system_prompt,
        greeting=row.greeting,
        language=row.language,
        starter_questions=config.starter_questions,
        llm=config.llm,
        voice=config.voice,
        knowledge_scope=config.knowledge_scope,
        appearance=config.appearance,
        allowed_origins=config.allowed_origins,
        recording=config.recording,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _voice(written: VoiceSettings, old_silence: int | None) -> BotVoice:
    """The one-name form of a written ``voice`` object (old names folded in; a clash is a 400
    naming the old field)."""
    fields = msgspec.structs.asdict(written)
    old_voice = fields.pop("voice")
    if old_voice is not msgspec.UNSET:
        if written.voice_id is not None and written.voice_id != old_voice:
            raise InvalidInput(
                "voice.voice is the old name of voice.voice_id; send one of them",
                field="voice.voice",
            )
        fields["voice_id"] = old_voice
    if old_silence is not None:
        if written.end_of_turn_silence_ms not in (None, old_silence):
            raise InvalidInput(
                "end_of_turn_silence_ms is the old name of voice.end_of_turn_silence_ms; "
                "send one of them",
                field="end_of_turn_silence_ms",
            )
        fields["end_of_turn_silence_ms"] = old_silence
    return BotVoice(**fields)


def _unset_to_none(value: int | msgspec.UnsetType) -> int | None:
    return None if value is msgspec.UNSET else value


async def get_bot(conn: Connection, tenant_id: UUID, bot_id: UUID) -> BotRow:
    row = await bots.get(conn, tenant_id, bot_id)
    if row is None:
        raise NotFound("no such bot")
    return row


async def create_bot(conn: Connection, tenant_id: UUID, data: BotCreate) -> BotRow:
    config = BotConfig(
        starter_questions=data.starter_questions,
        llm=data.llm,
        voice=_voice(data.voice, _unset_to_none(data.end_of_turn_silence_ms)),
        knowledge_scope=data.knowledge_scope,
        appearance=data.appearance,
        allowed_origins=_origins(data.allowed_origins),
        recording=data.recording,
    )
    return await bots.create(
        conn,
        tenant_id=tenant_id,
        name=data.name.strip() or data.name,
        system_prompt=data.system_prompt,
        greeting=data.greeting,
        language=data.language,
        config=config.to_stored(),
    )


async def update_bot(conn: Connection, tenant_id: UUID, bot_id: UUID, patch: BotUpdate) -> BotRow:
    changes = msgspec.to_builtins(patch)  # UNSET fields are left out
    if not changes:
        raise InvalidInput("nothing to change: send at least one field")
    if "allowed_origins" in changes:
        changes["allowed_origins"] = _origins(changes["allowed_origins"])
    old_silence = _unset_to_none(changes.pop("end_of_turn_silence_ms", msgspec.UNSET))
    async with conn.transaction():
        if isinstance(patch.voice, VoiceSettings):
            changes["voice"] = msgspec.to_builtins(_voice(patch.voice, old_silence))
        elif old_silence is not None:
            # The old top-level name changes that one knob and keeps the rest of `voice`.
            current = await get_bot(conn, tenant_id, bot_id)
            voice = BotConfig.from_stored(current.config).voice
            changes["voice"] = msgspec.to_builtins(
                msgspec.structs.replace(voice, end_of_turn_silence_ms=old_silence)
            )
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
        config=BotConfig.from_stored(source.config).to_stored(),
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
