"""A ready-made tenant for tests: owner, bot, secret key, publishable key and an access token.

Built on dashboard_api's real services (sign-up, key creation), straight against the database,
so it works before or after the server under test starts: the token is signed with the secret
the server uses (the one generated into the database, or ``jwt_secret`` if the test's settings
set PARLEY_JWT_SECRET).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from uuid import UUID

import asyncpg
from argon2 import PasswordHasher, Type

from dashboard_api import accounts
from dashboard_api.key_management import create_publishable_key, create_secret_key
from dashboard_api.origins import normalise_origin
from dashboard_api.passwords import Passwords
from dashboard_api.repositories import bots, signing_secrets
from dashboard_api.services import build_services

DEFAULT_PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class TenantKeys:
    tenant_id: UUID
    tenant_slug: str
    bot_id: UUID
    user_id: UUID
    email: str
    password: str
    secret_key: str
    publishable_key: str
    origin: str
    access_token: str

    @property
    def user_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    @property
    def secret_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret_key}"}

    @property
    def widget_headers(self) -> dict[str, str]:
        return {"X-Parley-Key": self.publishable_key, "Origin": self.origin}


def fast_passwords() -> Passwords:
    """Cheap argon2id parameters: tests create many users; the server rehashes on log-in."""
    return Passwords(PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1, type=Type.ID))


async def create_tenant(
    database_url: str,
    *,
    name: str = "Acme",
    plan: str = "free",
    origin: str = "https://shop.example",
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    bot_name: str = "Support",
    jwt_secret: str | None = None,
) -> TenantKeys:
    email = email or f"owner-{uuid.uuid4().hex[:10]}@example.com"
    conn = await asyncpg.connect(database_url)
    try:
        if jwt_secret is not None:
            secret = jwt_secret.encode()
        else:
            secret, _ = await signing_secrets.get_or_create(conn)
        services = build_services(secret, passwords=fast_passwords())
        grant = await accounts.sign_up(
            conn, services, email=email, password=password, tenant_name=name, plan=plan
        )
        tenant_id = grant.tenant.id
        bot = await bots.create(
            conn,
            tenant_id=tenant_id,
            name=bot_name,
            config={"allowed_origins": [normalise_origin(origin)]},
        )
        secret_key = await create_secret_key(
            conn, tenant_id, name="test server", created_by=grant.user.id
        )
        publishable = await create_publishable_key(
            conn,
            tenant_id,
            bot_id=bot.id,
            name="test widget",
            created_by=grant.user.id,
        )
    finally:
        await conn.close()
    return TenantKeys(
        tenant_id=tenant_id,
        tenant_slug=grant.tenant.slug,
        bot_id=bot.id,
        user_id=grant.user.id,
        email=email,
        password=password,
        secret_key=secret_key.key,
        publishable_key=publishable.key,
        origin=publishable.row.allowed_origins[0],
        access_token=grant.access.token,
    )
