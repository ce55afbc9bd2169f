"""Sign-up and log-in: tenants, their users, and the sessions access tokens belong to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from dashboard_api.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from dashboard_api.repositories import sessions, tenants, users
from dashboard_api.repositories.tenants import TenantRow
from dashboard_api.repositories.users import UserRow
from dashboard_api.services import DashboardServices
from dashboard_api.tokens import IssuedToken
from voice_server.db.types import Connection
from voice_server.errors import InvalidInput, Unauthenticated

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_BAD_LOGIN = "wrong email or password"


@dataclass(frozen=True)
class SessionGrant:
    tenant: TenantRow
    user: UserRow
    session_id: UUID
    access: IssuedToken


def normalise_email(email: str) -> str:
    value = email.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise InvalidInput("email must be an address like owner@shop.example", field="email")
    return value


def check_password_rules(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters",
            field="password",
        )


async def sign_up(
    conn: Connection,
    services: DashboardServices,
    *,
    email: str,
    password: str,
    tenant_name: str,
    display_name: str | None = None,
    plan: str = "free",
    user_agent: str | None = None,
) -> SessionGrant:
    """A new tenant with this person as its owner, logged in."""
    email = normalise_email(email)
    check_password_rules(password)
    tenant_name = tenant_name.strip()
    if not 1 <= len(tenant_name) <= 200:
        raise InvalidInput("tenant_name must be 1 to 200 characters", field="tenant_name")
    password_hash = await services.passwords.hash(password)
    async with conn.transaction():
        tenant = await tenants.create(conn, name=tenant_name, plan=plan)
        user = await users.create(
            conn,
            tenant_id=tenant.id,
            email=email,
            role="owner",
            password_hash=password_hash,
            display_name=display_name,
        )
        return await start_session(conn, services, tenant, user, user_agent=user_agent)


async def log_in(
    conn: Connection,
    services: DashboardServices,
    *,
    email: str,
    password: str,
    tenant: str | None = None,
    user_agent: str | None = None,
) -> SessionGrant:
    """A session for the account this email and password open.

    One email may own accounts in several tenants; ``tenant`` (slug or id) picks one, and is
    required only when the password opens more than one.
    """
    try:
        email = normalise_email(email)
    except InvalidInput:
        raise Unauthenticated(_BAD_LOGIN) from None
    candidates = await users.find_for_login(conn, email)
    matched: list[tuple[TenantRow, UserRow]] = []
    for user in candidates:
        found = await tenants.get(conn, user.tenant_id)
        if found is None or (tenant is not None and tenant not in (found.slug, str(found.id))):
            continue
        if await services.passwords.verify(user.password_hash, password):
            matched.append((found, user))
    if not candidates:
        await services.passwords.verify(None, password)  # a miss costs as much as a hit
    if not matched:
        raise Unauthenticated(_BAD_LOGIN)
    if len(matched) > 1:
        slugs = [t.slug for t, _ in matched]
        raise InvalidInput(
            "this email belongs to several organisations; give `tenant` (one of the slugs)",
            field="tenant",
            tenants=slugs,
        )
    found, user = matched[0]
    if services.passwords.needs_rehash(user.password_hash or ""):
        await users.set_password_hash(
            conn, found.id, user.id, await services.passwords.hash(password)
        )
    async with conn.transaction():
        await users.record_login(conn, found.id, user.id)
        return await start_session(conn, services, found, user, user_agent=user_agent)


async def start_session(
    conn: Connection,
    services: DashboardServices,
    tenant: TenantRow,
    user: UserRow,
    *,
    user_agent: str | None = None,
) -> SessionGrant:
    expires_at = datetime.now(UTC) + timedelta(seconds=services.session_ttl_s)
    session_id = await sessions.create(
        conn, tenant_id=tenant.id, user_id=user.id, expires_at=expires_at, user_agent=user_agent
    )
    access = services.tokens.issue(user_id=user.id, tenant_id=tenant.id, session_id=session_id)
    return SessionGrant(tenant=tenant, user=user, session_id=session_id, access=access)
