"""Sign-up and log-in."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from dashboard_api import accounts, auth_sessions
from dashboard_api.auth_sessions import SessionGrant
from dashboard_api.authentication import access_claims, enforce_auth_rate_limit
from dashboard_api.guards import require_user
from dashboard_api.services import DashboardServices
from voice_server.db import Database
from voice_server.principal import Principal

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, examples=["owner@shop.example"])]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class SignUpBody(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password
    tenant_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    display_name: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    # The operator's invitation code, when PARLEY_SIGNUP=invite (`parley signup-invite EMAIL`).
    invite: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class LogInBody(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password
    tenant: Annotated[str, msgspec.Meta(max_length=100, description="slug or id")] | None = None


class RefreshBody(msgspec.Struct, forbid_unknown_fields=True):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class PasswordChangeBody(msgspec.Struct, forbid_unknown_fields=True):
    current_password: Password
    new_password: Password


class TenantOut(msgspec.Struct):
    id: UUID
    name: str
    slug: str
    plan: str


class UserOut(msgspec.Struct):
    id: UUID
    email: str
    role: str
    display_name: str | None


class SessionOut(msgspec.Struct):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    session_id: UUID
    tenant: TenantOut
    user: UserOut


def session_out(grant: SessionGrant) -> SessionOut:
    return SessionOut(
        access_token=grant.access.token,
        token_type="bearer",
        expires_in=grant.access.expires_in,
        refresh_token=grant.refresh_token,
        session_id=grant.session_id,
        tenant=TenantOut(
            id=grant.tenant.id,
            name=grant.tenant.name,
            slug=grant.tenant.slug,
            plan=grant.tenant.plan,
        ),
        user=UserOut(
            id=grant.user.id,
            email=grant.user.email,
            role=grant.user.role,
            display_name=grant.user.display_name,
        ),
    )


class AuthController(Controller):
    path = "/v1/auth"
    tags = ["auth"]

    @post("/signup", status_code=201, summary="Create an organisation and its owner; log in")
    async def sign_up(
        self,
        data: JSONBody[SignUpBody],
        request: Request[Any, Any, Any],
        database: NamedDependency[Database],
        dashboard_services: NamedDependency[DashboardServices],
    ) -> SessionOut:
        await enforce_auth_rate_limit(request, dashboard_services)
        async with database.pool.acquire() as conn:
            grant = await accounts.sign_up(
                conn,
                dashboard_services,
                email=data.email,
                password=data.password,
                tenant_name=data.tenant_name,
                display_name=data.display_name,
                user_agent=request.headers.get("user-agent"),
                signup_mode=dashboard_services.signup,
                invite=data.invite,
            )
        return session_out(grant)

    @post("/login", status_code=200, summary="Log in with email and password")
    async def log_in(
        self,
        data: JSONBody[LogInBody],
        request: Request[Any, Any, Any],
        database: NamedDependency[Database],
        dashboard_services: NamedDependency[DashboardServices],
    ) -> SessionOut:
        await enforce_auth_rate_limit(request, dashboard_services)
        async with database.pool.acquire() as conn:
            grant = await accounts.log_in(
                conn,
                dashboard_services,
                email=data.email,
                password=data.password,
                tenant=data.tenant,
                user_agent=request.headers.get("user-agent"),
            )
        return session_out(grant)

    @post("/refresh", status_code=200, summary="Trade a refresh token for new tokens (rotation)")
    async def refresh(
        self,
        data: JSONBody[RefreshBody],
        request: Request[Any, Any, Any],
        database: NamedDependency[Database],
        dashboard_services: NamedDependency[DashboardServices],
    ) -> SessionOut:
        await enforce_auth_rate_limit(request, dashboard_services)
        async with database.pool.acquire() as conn:
            grant = await auth_sessions.refresh(conn, dashboard_services, data.refresh_token)
        return session_out(grant)

    @post("/logout", status_code=204, summary="End this session (its access and refresh tokens)")
    async def log_out(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
        dashboard_services: NamedDependency[DashboardServices],
    ) -> None:
        require_user(principal)
        claims = access_claims(request, dashboard_services)
        async with database.pool.acquire() as conn:
            await auth_sessions.end_session(conn, claims.tenant_id, claims.session_id, "logout")

    @post(
        "/password",
        status_code=200,
        summary="Change your password; every session ends and a new one starts",
    )
    async def change_password(
        self,
        data: JSONBody[PasswordChangeBody],
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
        dashboard_services: NamedDependency[DashboardServices],
    ) -> SessionOut:
        user_id = require_user(principal)
        async with database.pool.acquire() as conn:
            grant = await accounts.change_password(
                conn,
                dashboard_services,
                tenant_id=principal.tenant_id,
                user_id=user_id,
                current_password=data.current_password,
                new_password=data.new_password,
                user_agent=request.headers.get("user-agent"),
            )
        return session_out(grant)
