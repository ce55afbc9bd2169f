"""Sign-up and log-in: tenants, their users, and the sessions access tokens belong to."""

from __future__ import annotations

import re
from urllib.parse import urlsplit
from uuid import UUID

import asyncpg

from dashboard_api.auth_sessions import SessionGrant, end_all_sessions, start_session
from dashboard_api.external_identity import ExternalClaims
from dashboard_api.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from dashboard_api.repositories import tenants, users
from dashboard_api.repositories.tenants import TenantRow
from dashboard_api.repositories.users import UserRow
from dashboard_api.services import DashboardServices
from dashboard_api.signup import check_signup
from voice_server.db.types import Connection
from voice_server.errors import Forbidden, InvalidInput, Unauthenticated

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_BAD_LOGIN = "wrong email or password"


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
    signup_mode: str = "open",
    invite: str | None = None,
) -> SessionGrant:
    """A new tenant with this person as its owner, logged in, if ``signup_mode`` lets them."""
    email = normalise_email(email)
    check_password_rules(password)
    await check_signup(conn, signup_mode, services.signup_invites, email=email, invite=invite)
    tenant_name = tenant_name.strip()
    if not 1 <= len(tenant_name) <= 200:
        raise InvalidInput("tenant_name must be 1 to 200 characters", field="tenant_name")
    password_hash = await services.passwords.hash(password)
    async with conn.transaction():
        if signup_mode != "open":
            # Two sign-ups at once on an empty server must not both pass as "the first account":
            # sign-ups take turns, and the check is repeated under the lock.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('parley:signup'))")
            await check_signup(
                conn, signup_mode, services.signup_invites, email=email, invite=invite
            )
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


async def change_password(
    conn: Connection,
    services: DashboardServices,
    *,
    tenant_id: UUID,
    user_id: UUID,
    current_password: str,
    new_password: str,
    user_agent: str | None = None,
) -> SessionGrant:
    """Set a new password, end every session of the user, and start a fresh one."""
    check_password_rules(new_password)
    user = await users.get(conn, tenant_id, user_id)
    if user is None:
        raise Unauthenticated("this session has ended; log in again")
    if not await services.passwords.verify(user.password_hash, current_password):
        raise Forbidden("the current password is wrong", field="current_password")
    new_hash = await services.passwords.hash(new_password)
    tenant = await tenants.get(conn, tenant_id)
    assert tenant is not None
    async with conn.transaction():
        await users.set_password_hash(conn, tenant_id, user_id, new_hash)
        await end_all_sessions(conn, tenant_id, user_id, "password_changed")
        return await start_session(conn, services, tenant, user, user_agent=user_agent)


EXTERNAL_SIGNUP_CLOSED = (
    "this identity has no account on this server, and sign-up here is not open; ask the "
    "server's operator for an invitation to an organisation"
)


async def external_user(
    conn: Connection, claims: ExternalClaims, signup_mode: str = "open"
) -> UserRow:
    """The user behind an external identity; its first visit provisions a tenant it owns when
    the sign-up mode lets anyone create one (``open``, or the server's very first account): an
    identity provider's own open sign-up must not open this server's (PARLEY_SIGNUP)."""
    found = await users.find_by_external(conn, claims.issuer, claims.subject)
    if found is not None:
        return found
    if signup_mode != "open" and await users.any_exist(conn):
        raise Forbidden(EXTERNAL_SIGNUP_CLOSED, code="signup_closed")
    host = urlsplit(claims.issuer).hostname or "external"
    email = claims.email or f"{claims.subject.lower()[:64]}@{host}"
    try:
        email = normalise_email(email)
    except InvalidInput:
        email = f"user@{host}"
    tenant_name = claims.name or email.split("@", 1)[0]
    try:
        async with conn.transaction():
            if signup_mode != "open":
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext('parley:signup'))")
                found = await users.find_by_external(conn, claims.issuer, claims.subject)
                if found is not None:  # a concurrent first request provisioned it
                    return found
                if await users.any_exist(conn):
                    raise Forbidden(EXTERNAL_SIGNUP_CLOSED, code="signup_closed")
            tenant = await tenants.create(conn, name=tenant_name[:200])
            return await users.create(
                conn,
                tenant_id=tenant.id,
                email=email,
                role="owner",
                password_hash=None,
                display_name=claims.name,
                external_issuer=claims.issuer,
                external_subject=claims.subject,
            )
    except asyncpg.UniqueViolationError:
        # A concurrent first request provisioned it: use that one.
        found = await users.find_by_external(conn, claims.issuer, claims.subject)
        if found is None:
            raise
        return found
