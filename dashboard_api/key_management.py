"""Creating and revoking API keys: the key is returned once, only its hash is stored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from dashboard_api.keys import PUBLISHABLE_SCOPES, SECRET_SCOPES, generate_key
from dashboard_api.origins import normalise_origin
from dashboard_api.repositories import api_keys, bots
from dashboard_api.repositories.api_keys import ApiKeyRow
from voice_server.db.types import Connection
from voice_server.errors import InvalidInput, NotFound

MAX_ORIGINS = 50


@dataclass(frozen=True)
class CreatedKey:
    row: ApiKeyRow
    key: str  # shown once


def check_scopes(scopes: Sequence[str], allowed: Sequence[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(allowed))
    if unknown:
        raise InvalidInput(
            f"unknown scopes: {', '.join(unknown)}", field="scopes", allowed=list(allowed)
        )
    return sorted(set(scopes))


def check_origins(origins: Sequence[str]) -> list[str]:
    if not origins:
        raise InvalidInput("a publishable key needs at least one allowed origin", field="origins")
    if len(origins) > MAX_ORIGINS:
        raise InvalidInput(f"at most {MAX_ORIGINS} origins per key", field="origins")
    try:
        return sorted({normalise_origin(o) for o in origins})
    except ValueError as exc:
        raise InvalidInput(str(exc), field="origins") from None


async def create_secret_key(
    conn: Connection,
    tenant_id: UUID,
    *,
    name: str = "",
    scopes: Sequence[str] | None = None,
    created_by: UUID | None = None,
) -> CreatedKey:
    chosen = check_scopes(SECRET_SCOPES if scopes is None else scopes, SECRET_SCOPES)
    new = generate_key("secret")
    row = await api_keys.create(
        conn,
        tenant_id=tenant_id,
        kind="secret",
        name=name,
        prefix=new.prefix,
        key_hash=new.key_hash,
        scopes=chosen,
        created_by=created_by,
    )
    return CreatedKey(row=row, key=new.key)


async def create_publishable_key(
    conn: Connection,
    tenant_id: UUID,
    *,
    bot_id: UUID,
    origins: Sequence[str] | None = None,
    name: str = "",
    created_by: UUID | None = None,
) -> CreatedKey:
    """A widget key for ``bot_id``; ``origins`` default to the bot's allowed origins."""
    bot = await bots.get(conn, tenant_id, bot_id)
    if bot is None:
        raise NotFound("no such bot", field="bot_id")
    allowed = check_origins(bot.config.get("allowed_origins", []) if origins is None else origins)
    new = generate_key("publishable")
    row = await api_keys.create(
        conn,
        tenant_id=tenant_id,
        kind="publishable",
        name=name,
        prefix=new.prefix,
        key_hash=new.key_hash,
        scopes=PUBLISHABLE_SCOPES,
        bot_id=bot_id,
        allowed_origins=allowed,
        created_by=created_by,
        display_key=new.key,  # publishable keys are public: the embed code shows them again
    )
    return CreatedKey(row=row, key=new.key)


async def revoke_key(conn: Connection, tenant_id: UUID, key_id: UUID) -> ApiKeyRow:
    row = await api_keys.revoke(conn, tenant_id, key_id)
    if row is None:
        raise NotFound("no such key")
    return row
