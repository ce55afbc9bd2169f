"""Sign-up (as the sign-up mode allows), sign-in, sign-out and accepting an invitation."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from dashboard_api import accounts, auth_sessions, members
from dashboard_api.auth_sessions import SessionGrant
from dashboard_api.authentication import enforce_auth_rate_limit
from dashboard_api.console.cookies import COOKIE_NAME
from dashboard_api.console.forms import Form
from dashboard_api.console.web import (
    ANON_COOKIE,
    ConsoleUser,
    anonymous_csrf,
    cookies_of,
    page,
    secure_cookies,
)
from dashboard_api.services import DashboardServices
from voice_server.db import Database
from voice_server.errors import Forbidden, InvalidInput, ParleyError


async def signup_mode(database: Database, services: DashboardServices) -> str:
    """PARLEY_SIGNUP (open | invite | closed) as it applies now: the server's first
    organisation may always be created, whatever the mode."""
    if services.signup == "open":
        return "open"
    async with database.pool.acquire() as conn:
        first = await conn.fetchval("SELECT NOT EXISTS (SELECT 1 FROM tenants)")
    return "open" if first else services.signup


def safe_next(value: str | None) -> str:
    """Only console paths: `next` must never send a person to another site."""
    if value and value.startswith("/console/") and not value.startswith("/console//"):
        return value
    return "/console/bots"


def _anonymous_page(
    request: Request[Any, Any, Any], template: str, status_code: int = 200, **context: Any
) -> Template:
    token, new_cookie = anonymous_csrf(request)
    response = page(request, template, status_code=status_code, csrf=token, **context)
    if new_cookie is not None:
        response.set_cookie(
            ANON_COOKIE,
            new_cookie,
            path="/console",
            httponly=True,
            secure=secure_cookies(request),
            samesite="lax",
        )
    return response


def _signed_in(request: Request[Any, Any, Any], grant: SessionGrant, target: str) -> Response[Any]:
    cookies = cookies_of(request.app.state)
    value = cookies.issue(
        user_id=grant.user.id, tenant_id=grant.tenant.id, session_id=grant.session_id
    )
    response = Redirect(path=target, status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        value,
        path="/console",
        max_age=cookies.tokens.ttl_s,
        httponly=True,
        secure=secure_cookies(request),
        samesite="lax",
    )
    return response


class AuthPages(Controller):
    path = "/"

    @get("/", name="console_home")
    async def home(self, console_user: NamedDependency[ConsoleUser]) -> Redirect:
        return Redirect(path="/console/bots", status_code=303)

    @get("/sign-in")
    async def sign_in_form(
        self, request: Request[Any, Any, Any], next: FromQuery[str | None] = None
    ) -> Template:
        return _anonymous_page(request, "sign_in.html", next=safe_next(next), error=None, email="")

    @post("/sign-in")
    async def sign_in(
        self,
        request: Request[Any, Any, Any],
        database: NamedDependency[Database],
        dashboard_services: NamedDependency[DashboardServices],
    ) -> Response[Any]:
        await enforce_auth_rate_limit(request, dashboard_services)
        form = await Form.read(request)
        email = form.text("email", max_length=254)
        target = safe_next(form.optional("next"))
        try:
            async with database.pool.acquire() as conn:
                grant = await accounts.log_in(
                    conn,
                    dashboard_services,
                    email=email,
                    password=form.text("password", max_length=1024),
                    tenant=form.optional("tenant"),
                    user_agent=request.headers.get("user-agent"),
                )
        except ParleyError as exc:
            return _anonymous_page(
                request,
                "sign_in.html",
                status_code=exc.status,
                next=target,
                error=exc.detail,
                email=email,
            )
        return _signed_in(request, grant, target)

    @get("/sign-up")
    async def sign_up_form(
        self,
        request: Request[Any, Any, Any],
        database: NamedDependency[Database],
        dashboard_services: NamedDependency[DashboardServices],
    ) -> Template:
        mode = await signup_mode(database, dashboard_services)
        return _anonymous_page(request, "sign_up.html", mode=mode, error=None, values={})

    @post("/sign-up")
    async def sign_up(
        self,
        request: Request[Any, Any, Any],
        database: NamedDependency[Database],
        dashboard_services: NamedDependency[DashboardServices],
    ) -> Response[Any]:
        await enforce_auth_rate_limit(request, dashboard_services)
        mode = await signup_mode(database, dashboard_services)
        form = await Form.read(request)
        values = {
            "email": form.text("email", max_length=254),
            "tenant_name": form.text("tenant_name", max_length=200),
            "display_name": form.optional("display_name"),
        }
        try:
            if mode != "open":
                raise Forbidden(
                    "new organisations cannot sign up on this server"
                    + ("; ask an owner for an invitation" if mode == "invite" else "")
                )
            if not values["tenant_name"]:
                raise InvalidInput("give your organisation a name", field="tenant_name")
            async with database.pool.acquire() as conn:
                grant = await accounts.sign_up(
                    conn,
                    dashboard_services,
                    email=str(values["email"]),
                    password=form.text("password", max_length=1024),
                    tenant_name=str(values["tenant_name"]),
                    display_name=values["display_name"],
                    user_agent=request.headers.get("user-agent"),
                )
        except ParleyError as exc:
            return _anonymous_page(
                request,
                "sign_up.html",
                status_code=exc.status,
                mode=mode,
                error=exc.detail,
                values=values,
            )
        return _signed_in(request, grant, "/console/bots")

    @get("/invitations/accept")
    async def accept_form(
        self, request: Request[Any, Any, Any], token: FromQuery[str] = ""
    ) -> Template:
        return _anonymous_page(request, "accept_invite.html", token=token[:200], error=None)

    @post("/invitations/accept")
    async def accept(
        self,
        request: Request[Any, Any, Any],
        database: NamedDependency[Database],
        dashboard_services: NamedDependency[DashboardServices],
    ) -> Response[Any]:
        await enforce_auth_rate_limit(request, dashboard_services)
        form = await Form.read(request)
        token = form.text("token", max_length=200)
        try:
            async with database.pool.acquire() as conn:
                grant = await members.accept(
                    conn,
                    dashboard_services,
                    token=token,
                    password=form.text("password", max_length=1024),
                    display_name=form.optional("display_name"),
                    user_agent=request.headers.get("user-agent"),
                )
        except ParleyError as exc:
            return _anonymous_page(
                request, "accept_invite.html", status_code=exc.status, token=token, error=exc.detail
            )
        return _signed_in(request, grant, "/console/bots")

    @post("/sign-out")
    async def sign_out(
        self,
        request: Request[Any, Any, Any],
        console_user: NamedDependency[ConsoleUser],
        database: NamedDependency[Database],
    ) -> Response[Any]:
        async with database.pool.acquire() as conn:
            await auth_sessions.end_session(
                conn, console_user.tenant_id, console_user.session_id, "logout"
            )
        response = Redirect(path="/console/sign-in", status_code=303)
        response.delete_cookie(COOKIE_NAME, path="/console")
        return response
