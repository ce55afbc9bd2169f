"""API keys: list, create (the key is shown once), read, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter

from dashboard_api.guards import require_scope
from dashboard_api.key_management import create_publishable_key, create_secret_key, revoke_key
from dashboard_api.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor
from dashboard_api.repositories import api_keys
from dashboard_api.repositories.api_keys import ApiKeyRow
from voice_server.db import Database
from voice_server.errors import InvalidInput, NotFound
from voice_server.principal import Principal

KeyKindParam = Literal["secret", "publishable"]


class KeyCreate(msgspec.Struct, forbid_unknown_fields=True):
    kind: KeyKindParam
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    scopes: list[Annotated[str, msgspec.Meta(max_length=50)]] | None = None  # secret keys only
    bot_id: UUID | None = None  # publishable keys only (required)
    # publishable keys only; default: the bot's allowed origins
    allowed_origins: list[Annotated[str, msgspec.Meta(max_length=300)]] | None = None


class KeyOut(msgspec.Struct):
    id: UUID
    kind: str
    name: str
    prefix: str
    scopes: list[str]
    bot_id: UUID | None
    allowed_origins: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    # The whole key: only when just created, or for publishable keys (public by design).
    key: str | None = None


class KeyPage(msgspec.Struct):
    items: list[KeyOut]
    next_cursor: str | None


def key_out(row: ApiKeyRow, key: str | None = None) -> KeyOut:
    return KeyOut(
        id=row.id,
        kind=row.kind,
        name=row.name,
        prefix=row.prefix,
        scopes=list(row.scopes),
        bot_id=row.bot_id,
        allowed_origins=list(row.allowed_origins),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        key=key or row.display_key,
    )


class KeysController(Controller):
    path = "/v1/keys"
    tags = ["keys"]

    @get("/", summary="List API keys (never the secret part of secret keys)")
    async def list_keys(
        self,
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
        limit: Annotated[int, Parameter(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: FromQuery[str | None] = None,
        kind: FromQuery[KeyKindParam | None] = None,
        bot_id: FromQuery[UUID | None] = None,
        include_revoked: FromQuery[bool] = False,
    ) -> KeyPage:
        require_scope(principal, "keys:read")
        async with database.pool.acquire() as conn:
            rows = await api_keys.list_page(
                conn,
                principal.tenant_id,
                limit=limit,
                after=decode_cursor(cursor),
                kind=kind,
                bot_id=bot_id,
                include_revoked=include_revoked,
            )
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id)
        return KeyPage(items=[key_out(r) for r in rows], next_cursor=next_cursor)

    @post("/", status_code=201, summary="Create a key; a secret key is shown only in this answer")
    async def create_key(
        self,
        data: JSONBody[KeyCreate],
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
    ) -> KeyOut:
        require_scope(principal, "keys:write")
        async with database.pool.acquire() as conn:
            if data.kind == "secret":
                if data.bot_id is not None or data.allowed_origins is not None:
                    raise InvalidInput("bot_id and allowed_origins are for publishable keys")
                created = await create_secret_key(
                    conn,
                    principal.tenant_id,
                    name=data.name,
                    scopes=data.scopes,
                    created_by=principal.user_id,
                )
            else:
                if data.bot_id is None:
                    raise InvalidInput("a publishable key needs a bot_id", field="bot_id")
                if data.scopes is not None:
                    raise InvalidInput("publishable keys have fixed scopes", field="scopes")
                created = await create_publishable_key(
                    conn,
                    principal.tenant_id,
                    bot_id=data.bot_id,
                    origins=data.allowed_origins,
                    name=data.name,
                    created_by=principal.user_id,
                )
        return key_out(created.row, created.key)

    @get("/{key_id:uuid}", summary="Read a key's metadata")
    async def get_key(
        self,
        key_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
    ) -> KeyOut:
        require_scope(principal, "keys:read")
        async with database.pool.acquire() as conn:
            row = await api_keys.get(conn, principal.tenant_id, key_id)
        if row is None:
            raise NotFound("no such key")
        return key_out(row)

    @delete(
        "/{key_id:uuid}", status_code=204, summary="Revoke a key (refused from the next request)"
    )
    async def revoke(
        self,
        key_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
    ) -> None:
        require_scope(principal, "keys:write")
        async with database.pool.acquire() as conn:
            await revoke_key(conn, principal.tenant_id, key_id)
