"""The package's long-lived parts, built once in the lifespan and injected with ``Provide``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from litestar import Litestar
from litestar.datastructures import State

from dashboard_api.key_usage import KeyUsage
from dashboard_api.passwords import Passwords
from dashboard_api.repositories import signing_secrets
from dashboard_api.tokens import AccessTokens
from voice_server.db.types import Connection
from voice_server.errors import ServiceUnavailable
from voice_server.plugin import Lifespan
from voice_server.settings import Settings

_log = logging.getLogger("parley.dashboard")
STATE_KEY = "dashboard_services"


@dataclass
class DashboardServices:
    passwords: Passwords
    tokens: AccessTokens
    key_usage: KeyUsage
    session_ttl_s: int = 30 * 86400
    allow_localhost_origins: bool = False
    public_url: str | None = None


def build_services(
    secret: bytes,
    *,
    access_token_ttl_s: int = 900,
    session_ttl_s: int = 30 * 86400,
    key_last_used_interval_s: float = 60.0,
    allow_localhost_origins: bool = False,
    public_url: str | None = None,
    passwords: Passwords | None = None,
) -> DashboardServices:
    return DashboardServices(
        passwords=passwords or Passwords(),
        tokens=AccessTokens(secret, ttl_s=access_token_ttl_s),
        key_usage=KeyUsage(key_last_used_interval_s),
        session_ttl_s=session_ttl_s,
        allow_localhost_origins=allow_localhost_origins,
        public_url=public_url,
    )


async def signing_secret(settings: Settings, conn: Connection) -> bytes:
    """PARLEY_JWT_SECRET, or the generated one kept in the database (created on first start)."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value().encode()
    secret, created = await signing_secrets.get_or_create(conn)
    if created:
        _log.info(
            "generated a token-signing secret and stored it in the database; "
            "set PARLEY_JWT_SECRET to manage it yourself"
        )
    return secret


def lifespan(settings: Settings) -> Lifespan:
    @asynccontextmanager
    async def dashboard_lifespan(app: Litestar) -> AsyncIterator[None]:
        async with app.state.database.pool.acquire() as conn:
            secret = await signing_secret(settings, conn)
        app.state[STATE_KEY] = build_services(
            secret,
            access_token_ttl_s=settings.access_token_ttl_s,
            session_ttl_s=settings.session_ttl_s,
            key_last_used_interval_s=settings.key_last_used_interval_s,
            allow_localhost_origins=settings.allow_localhost_origins,
            public_url=settings.public_url,
        )
        try:
            yield
        finally:
            app.state[STATE_KEY] = None

    return dashboard_lifespan


def provide_services(state: State) -> DashboardServices:
    services: DashboardServices | None = state.get(STATE_KEY)
    if services is None:
        raise ServiceUnavailable("the server is starting or stopping; retry shortly")
    return services
