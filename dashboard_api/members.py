"""Members of a tenant: roles, removal, and invitations to join."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from dashboard_api.accounts import check_password_rules, normalise_email
from dashboard_api.auth_sessions import SessionGrant, start_session
from dashboard_api.repositories import invitations, tenants, users
from dashboard_api.repositories.invitations import InvitationRow
from dashboard_api.repositories.users import UserRow
from dashboard_api.services import DashboardServices
from voice_server.db.types import Connection
from voice_server.errors import Conflict, Forbidden, NotFound, Unauthenticated
from voice_server.principal import Principal

INVITATION_TTL = timedelta(days=7)
INVITE_TAG = "pinv_"


@dataclass(frozen=True)
class NewInvitation:
    row: InvitationRow
    token: str  # sent to the invitee once


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _check_may_manage(actor: Principal, target: UserRow, new_role: str | None = None) -> None:
    # Only owners touch owners (or make new ones).
    if (target.role == "owner" or new_role == "owner") and actor.role != "owner":
        raise Forbidden("only an owner may change or remove an owner")


async def change_role(conn: Connection, actor: Principal, user_id: UUID, role: str) -> UserRow:
    async with conn.transaction():
        target = await users.get(conn, actor.tenant_id, user_id)
        if target is None:
            raise NotFound("no such member")
        _check_may_manage(actor, target, role)
        if target.role == "owner" and role != "owner":
            await _keep_an_owner(conn, actor.tenant_id)
        updated = await users.set_role(conn, actor.tenant_id, user_id, role)
    assert updated is not None
    return updated


async def remove(conn: Connection, actor: Principal, user_id: UUID) -> None:
    """Deleting the user ends its sessions too (they cascade)."""
    async with conn.transaction():
        target = await users.get(conn, actor.tenant_id, user_id)
        if target is None:
            raise NotFound("no such member")
        _check_may_manage(actor, target)
        if target.role == "owner":
            await _keep_an_owner(conn, actor.tenant_id)
        await users.delete(conn, actor.tenant_id, user_id)


async def _keep_an_owner(conn: Connection, tenant_id: UUID) -> None:
    # Lock the tenant row so that two demotions at once cannot both see a second owner.
    await conn.execute("SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE", tenant_id)
    if await users.count_owners(conn, tenant_id) <= 1:
        raise Conflict("a tenant keeps at least one owner; make someone else owner first")


async def invite(conn: Connection, actor: Principal, email: str, role: str) -> NewInvitation:
    email = normalise_email(email)
    token = INVITE_TAG + secrets.token_urlsafe(32)
    row = await invitations.create(
        conn,
        tenant_id=actor.tenant_id,
        email=email,
        role=role,
        token_hash=_hash(token),
        invited_by=actor.user_id,
        expires_at=datetime.now(UTC) + INVITATION_TTL,
    )
    return NewInvitation(row=row, token=token)


async def accept(
    conn: Connection,
    services: DashboardServices,
    *,
    token: str,
    password: str,
    display_name: str | None = None,
    user_agent: str | None = None,
) -> SessionGrant:
    """Join the inviting tenant with the invited email and a new password, logged in."""
    check_password_rules(password)
    password_hash = await services.passwords.hash(password)
    async with conn.transaction():
        row = await invitations.find_by_hash(conn, _hash(token))
        if (
            row is None
            or row.accepted_at is not None
            or row.revoked_at is not None
            or row.expires_at <= datetime.now(UTC)
        ):
            raise Unauthenticated("this invitation is not valid (used, revoked or expired)")
        tenant = await tenants.get(conn, row.tenant_id)
        assert tenant is not None
        try:
            async with conn.transaction():
                user = await users.create(
                    conn,
                    tenant_id=row.tenant_id,
                    email=row.email,
                    role=row.role,
                    password_hash=password_hash,
                    display_name=display_name,
                )
        except asyncpg.UniqueViolationError:
            raise Conflict("this email is already a member of the tenant") from None
        await invitations.mark_accepted(conn, row.tenant_id, row.id)
        return await start_session(conn, services, tenant, user, user_agent=user_agent)
