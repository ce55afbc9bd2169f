"""Who am I: the caller's principal, so clients can check the credentials they hold."""

from __future__ import annotations

from uuid import UUID

import msgspec
from litestar import get
from litestar.di import NamedDependency

from voice_server.principal import Principal


class PrincipalOut(msgspec.Struct):
    tenant_id: UUID
    kind: str
    user_id: UUID | None
    key_id: UUID | None
    role: str | None
    bot_id: UUID | None
    scopes: list[str]


@get("/v1/me", tags=["auth"], summary="The caller's identity and scopes")
async def whoami(principal: NamedDependency[Principal]) -> PrincipalOut:
    return PrincipalOut(
        tenant_id=principal.tenant_id,
        kind=principal.kind,
        user_id=principal.user_id,
        key_id=principal.key_id,
        role=principal.role,
        bot_id=principal.bot_id,
        scopes=sorted(principal.scopes),
    )
