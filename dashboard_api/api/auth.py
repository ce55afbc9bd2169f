"""Sign-up and log-in."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from dashboard_api import accounts
from dashboard_api.accounts import SessionGrant
from dashboard_api.services import DashboardServices
from voice_server.db import Database

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, examples=["owner@shop.example"])]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class SignUpBody(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password
    tenant_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    display_name: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class LogInBody(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password
    tenant: Annotated[str, msgspec.Meta(max_length=100, description="slug or id")] | None = None


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
    session_id: UUID
    tenant: TenantOut
    user: UserOut


def session_out(grant: SessionGrant) -> SessionOut:
    return SessionOut(
        access_token=grant.access.token,
        token_type="bearer",
        expires_in=grant.access.expires_in,
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
        async with database.pool.acquire() as conn:
            grant = await accounts.sign_up(
                conn,
                dashboard_services,
                email=data.email,
                password=data.password,
                tenant_name=data.tenant_name,
                display_name=data.display_name,
                user_agent=request.headers.get("user-agent"),
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
