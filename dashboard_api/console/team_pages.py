"""Team: members and their roles, invitations (the code is shown once), removal."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from dashboard_api import members
from dashboard_api.console.forms import Form
from dashboard_api.console.web import ConsoleUser, back_to, is_htmx, page
from dashboard_api.guards import require_scope
from dashboard_api.repositories import invitations, users
from dashboard_api.roles import ROLES
from voice_server.db import Database
from voice_server.errors import InvalidInput, NotFound, ParleyError


async def _context(database: Database, user: ConsoleUser) -> dict[str, Any]:
    async with database.pool.acquire() as conn:
        people = await users.list_for_tenant(conn, user.tenant_id)
        pending = await invitations.list_pending(conn, user.tenant_id)
        retention = await conn.fetchval(
            "SELECT recording_retention_days FROM tenants WHERE id = $1", user.tenant_id
        )
    return {"people": people, "pending": pending, "roles": ROLES, "retention_days": retention}


class TeamPages(Controller):
    path = "/team"

    @get("/")
    async def index(
        self,
        request: Request[Any, Any, Any],
        console_user: NamedDependency[ConsoleUser],
        database: NamedDependency[Database],
    ) -> Template:
        context = await _context(database, console_user)
        return page(request, "team.html", user=console_user, invited=None, error=None, **context)

    @post("/invitations")
    async def invite(
        self,
        request: Request[Any, Any, Any],
        console_user: NamedDependency[ConsoleUser],
        database: NamedDependency[Database],
    ) -> Template:
        require_scope(console_user.principal, "members:write")
        form = await Form.read(request)
        invited = error = None
        try:
            role = form.text("role", "member", max_length=20)
            if role not in ROLES or (role == "owner" and console_user.role != "owner"):
                raise InvalidInput("choose a role you may give", field="role")
            async with database.pool.acquire() as conn:
                made = await members.invite(
                    conn, console_user.principal, form.text("email", max_length=254), role
                )
            invited = {"email": made.row.email, "token": made.token}
        except ParleyError as exc:
            error = exc.detail
        context = await _context(database, console_user)
        return page(
            request,
            "team.html",
            user=console_user,
            invited=invited,
            error=error,
            status_code=201 if invited else 400,
            **context,
        )

    @post("/invitations/{invitation_id:uuid}/revoke")
    async def revoke_invitation(
        self,
        request: Request[Any, Any, Any],
        invitation_id: FromPath[UUID],
        console_user: NamedDependency[ConsoleUser],
        database: NamedDependency[Database],
    ) -> Response[Any]:
        require_scope(console_user.principal, "members:write")
        async with database.pool.acquire() as conn:
            if not await invitations.revoke(conn, console_user.tenant_id, invitation_id):
                raise NotFound("no such invitation")
        return back_to("/console/team", htmx=is_htmx(request))

    @post("/members/{user_id:uuid}/remove")
    async def remove(
        self,
        request: Request[Any, Any, Any],
        user_id: FromPath[UUID],
        console_user: NamedDependency[ConsoleUser],
        database: NamedDependency[Database],
    ) -> Response[Any]:
        require_scope(console_user.principal, "members:write")
        async with database.pool.acquire() as conn:
            await members.remove(conn, console_user.principal, user_id)
        return back_to("/console/team", htmx=is_htmx(request))


class RetentionPages(Controller):
    path = "/team"

    @post("/recording-retention")
    async def set_retention(
        self,
        request: Request[Any, Any, Any],
        console_user: NamedDependency[ConsoleUser],
        database: NamedDependency[Database],
    ) -> Response[Any]:
        """How many days the organisation keeps call recordings (owners); older ones are
        deleted by the recording sweeper."""
        require_scope(console_user.principal, "tenant:write")
        form = await Form.read(request)
        days = int(form.number("retention_days", 30, low=1, high=3650))
        async with database.pool.acquire() as conn:
            await conn.execute(
                "UPDATE tenants SET recording_retention_days = $2, updated_at = now()"
                " WHERE id = $1",
                console_user.tenant_id,
                days,
            )
        return back_to("/console/team", htmx=is_htmx(request))
