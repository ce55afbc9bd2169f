"""Members and invitations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from dashboard_api import members
from dashboard_api.api.auth import Password, SessionOut, session_out
from dashboard_api.authentication import enforce_auth_rate_limit
from dashboard_api.guards import require_scope, require_user
from dashboard_api.repositories import invitations, users
from dashboard_api.repositories.invitations import InvitationRow
from dashboard_api.repositories.users import UserRow
from dashboard_api.services import DashboardServices
from voice_server.db import Database
from voice_server.errors import NotFound
from voice_server.principal import Principal

Role = Literal["owner", "admin", "member"]


class MemberOut(msgspec.Struct):
    id: UUID
    email: str
    display_name: str | None
    role: str
    created_at: datetime
    last_login_at: datetime | None


class MemberList(msgspec.Struct):
    items: list[MemberOut]


class RoleBody(msgspec.Struct, forbid_unknown_fields=True):
    role: Role


class InvitationBody(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
    role: Literal["admin", "member"] = "member"


class InvitationOut(msgspec.Struct):
    id: UUID
    email: str
    role: str
    created_at: datetime
    expires_at: datetime
    token: str | None = None  # only in the answer that creates it: send it to the invitee


class InvitationList(msgspec.Struct):
    items: list[InvitationOut]


class AcceptBody(msgspec.Struct, forbid_unknown_fields=True):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    password: Password
    display_name: Annotated[str, msgspec.Meta(max_length=200)] | None = None


def member_out(row: UserRow) -> MemberOut:
    return MemberOut(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        role=row.role,
        created_at=row.created_at,
        last_login_at=row.last_login_at,
    )


def invitation_out(row: InvitationRow, token: str | None = None) -> InvitationOut:
    return InvitationOut(
        id=row.id,
        email=row.email,
        role=row.role,
        created_at=row.created_at,
        expires_at=row.expires_at,
        token=token,
    )


class MembersController(Controller):
    path = "/v1/members"
    tags = ["members"]

    @get("/", summary="The tenant's users and their roles")
    async def list_members(
        self, principal: NamedDependency[Principal], database: NamedDependency[Database]
    ) -> MemberList:
        require_user(principal)
        async with database.pool.acquire() as conn:
            rows = await users.list_for_tenant(conn, principal.tenant_id)
        return MemberList(items=[member_out(r) for r in rows])

    @patch("/{user_id:uuid}", summary="Change a member's role")
    async def change_role(
        self,
        user_id: FromPath[UUID],
        data: JSONBody[RoleBody],
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
    ) -> MemberOut:
        require_user(principal)
        require_scope(principal, "members:write")
        async with database.pool.acquire() as conn:
            row = await members.change_role(conn, principal, user_id, data.role)
        return member_out(row)

    @delete("/{user_id:uuid}", status_code=204, summary="Remove a member (ends their sessions)")
    async def remove(
        self,
        user_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
    ) -> None:
        require_user(principal)
        require_scope(principal, "members:write")
        async with database.pool.acquire() as conn:
            await members.remove(conn, principal, user_id)


class InvitationsController(Controller):
    path = "/v1/invitations"
    tags = ["members"]

    @post("/", status_code=201, summary="Invite someone; the answer carries the token to send")
    async def invite(
        self,
        data: JSONBody[InvitationBody],
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
    ) -> InvitationOut:
        require_user(principal)
        require_scope(principal, "members:write")
        async with database.pool.acquire() as conn:
            created = await members.invite(conn, principal, data.email, data.role)
        return invitation_out(created.row, created.token)

    @get("/", summary="Pending invitations")
    async def list_invitations(
        self, principal: NamedDependency[Principal], database: NamedDependency[Database]
    ) -> InvitationList:
        require_scope(principal, "members:write")
        async with database.pool.acquire() as conn:
            rows = await invitations.list_pending(conn, principal.tenant_id)
        return InvitationList(items=[invitation_out(r) for r in rows])

    @delete("/{invitation_id:uuid}", status_code=204, summary="Withdraw an invitation")
    async def revoke(
        self,
        invitation_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
    ) -> None:
        require_scope(principal, "members:write")
        async with database.pool.acquire() as conn:
            if not await invitations.revoke(conn, principal.tenant_id, invitation_id):
                raise NotFound("no such pending invitation")

    @post("/accept", status_code=200, summary="Accept an invitation: set a password, log in")
    async def accept(
        self,
        data: JSONBody[AcceptBody],
        request: Request[Any, Any, Any],
        database: NamedDependency[Database],
        dashboard_services: NamedDependency[DashboardServices],
    ) -> SessionOut:
        await enforce_auth_rate_limit(request, dashboard_services)
        async with database.pool.acquire() as conn:
            grant = await members.accept(
                conn,
                dashboard_services,
                token=data.token,
                password=data.password,
                display_name=data.display_name,
                user_agent=request.headers.get("user-agent"),
            )
        return session_out(grant)
