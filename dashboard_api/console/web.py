"""The console's plumbing: who is signed in, CSRF on every unsafe request, the per-request CSP
nonce and security headers, page rendering and friendly error pages."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit
from uuid import UUID

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from dashboard_api.console.cookies import COOKIE_NAME, CSRF_FIELD, CSRF_HEADER, ConsoleCookies
from dashboard_api.repositories import sessions, tenants, users
from dashboard_api.roles import scopes_for_role
from voice_server.db import Database
from voice_server.errors import Forbidden, ParleyError, ServiceUnavailable, Unauthenticated
from voice_server.principal import Principal

_log = logging.getLogger("parley.console")

STATE_KEY = "console_cookies"
ANON_COOKIE = "parley_console_anon"
NONCE_KEY = "csp_nonce"
PREFIX = "/console"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Handlers that parse a streamed multipart body check the token themselves (opt={"csrf": ...}).
CSRF_IN_HANDLER = "in_handler"


@dataclass(frozen=True)
class ConsoleUser:
    """The signed-in person, as the services see them (a Principal) plus what pages show."""

    principal: Principal
    session_id: UUID
    email: str
    display_name: str | None
    tenant_name: str
    tenant_slug: str
    csrf: str

    @property
    def user_id(self) -> UUID:
        assert self.principal.user_id is not None
        return self.principal.user_id

    @property
    def tenant_id(self) -> UUID:
        return self.principal.tenant_id

    @property
    def role(self) -> str:
        return self.principal.role or "member"

    def may(self, scope: str) -> bool:
        return scope in self.principal.scopes


def cookies_of(state: State) -> ConsoleCookies:
    found: ConsoleCookies | None = state.get(STATE_KEY)
    if found is None:
        raise ServiceUnavailable("the server is starting or stopping; retry shortly")
    return found


def secure_cookies(connection: ASGIConnection) -> bool:
    """Secure when the browser reached us over TLS (directly, or as the public URL says)."""
    if connection.url.scheme == "https":
        return True
    public = connection.app.state.settings.public_url
    return bool(public and public.startswith("https://"))


async def provide_console_user(
    request: Request[Any, Any, Any], database: NamedDependency[Database]
) -> ConsoleUser:
    """The ``console_user`` dependency: the cookie's session, if it is still active."""
    cookies = cookies_of(request.app.state)
    claims = cookies.read(request.cookies.get(COOKIE_NAME, ""))
    async with database.pool.acquire() as conn:
        active = await sessions.get_active(
            conn, claims.tenant_id, claims.session_id, claims.user_id
        )
        if active is None:
            raise Unauthenticated("your session has ended; sign in again")
        user = await users.get(conn, claims.tenant_id, active.user_id)
        tenant = await tenants.get(conn, claims.tenant_id)
    if user is None or tenant is None:
        raise Unauthenticated("your session has ended; sign in again")
    principal = Principal(
        tenant_id=claims.tenant_id,
        kind="user",
        user_id=active.user_id,
        role=active.role,
        scopes=scopes_for_role(active.role),
    )
    user_out = ConsoleUser(
        principal=principal,
        session_id=claims.session_id,
        email=user.email,
        display_name=user.display_name,
        tenant_name=tenant.name,
        tenant_slug=tenant.slug,
        csrf=cookies.csrf_token(claims.session_id),
    )
    request.state.console_user = user_out
    return user_out


# -- CSRF ----------------------------------------------------------------------------------------


def anonymous_csrf(request: Request[Any, Any, Any]) -> tuple[str, str | None]:
    """A token for the forms shown before sign-in (sign-in, sign-up, invitation): bound to a
    random cookie (double submit, HMAC-protected). Returns (token, cookie value to set)."""
    cookies = cookies_of(request.app.state)
    value = request.cookies.get(ANON_COOKIE)
    new = None
    if not value or len(value) > 100:
        value = new = secrets.token_urlsafe(24)
    return cookies.csrf_token(_anon_id(value)), new


def _anon_id(value: str) -> UUID:
    import hashlib

    return UUID(bytes=hashlib.sha256(value.encode()).digest()[:16])


def same_origin(request: Request[Any, Any, Any]) -> bool:
    """Browsers send Origin (or Sec-Fetch-Site) on form posts: a cross-site one is refused even
    before the token is looked at."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def check_csrf(request: Request[Any, Any, Any], presented: str | None = None) -> None:
    """Refuse an unsafe request without this session's (or this browser's) CSRF token."""
    if not same_origin(request):
        raise Forbidden("this form was posted from another site", reason="csrf")
    if presented is None:
        presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        presented = value if isinstance(value, str) else None
    cookies = cookies_of(request.app.state)
    session_cookie = request.cookies.get(COOKIE_NAME)
    if session_cookie:
        try:
            claims = cookies.read(session_cookie)
        except Unauthenticated:
            claims = None
        if claims is not None and cookies.csrf_ok(claims.session_id, presented):
            return
    anon = request.cookies.get(ANON_COOKIE)
    if anon and cookies.csrf_ok(_anon_id(anon), presented):
        return
    raise Forbidden(
        "the form's security token is missing or stale; reload the page and try again",
        reason="csrf",
    )


async def csrf_guard(request: Request[Any, Any, Any]) -> None:
    """The console router's ``before_request`` hook: every unsafe request needs the token."""
    if request.method not in UNSAFE:
        return None
    if request.route_handler.opt.get("csrf") == CSRF_IN_HANDLER:
        return None
    await check_csrf(request)
    return None


# -- security headers ----------------------------------------------------------------------------


def security_headers_middleware(app: ASGIApp) -> ASGIApp:
    """A fresh CSP nonce per request (templates put it on their script tags) and the headers
    that keep console pages out of frames, caches and other sites' reach."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})[NONCE_KEY] = nonce
        policy = (
            "default-src 'self'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
            "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'"
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                extra = {
                    b"content-security-policy": policy.encode(),
                    b"x-content-type-options": b"nosniff",
                    b"referrer-policy": b"same-origin",
                    b"x-frame-options": b"DENY",
                    b"cache-control": b"no-store",
                }
                headers.extend((k, v) for k, v in extra.items() if k not in names)
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware


# -- rendering -----------------------------------------------------------------------------------


def nonce_of(request: Request[Any, Any, Any]) -> str:
    value: str = request.scope.get("state", {}).get(NONCE_KEY, "")
    return value


def page(
    request: Request[Any, Any, Any],
    template: str,
    *,
    user: ConsoleUser | None = None,
    status_code: int = 200,
    **context: Any,
) -> Template:
    """A full page, or only its main block when HTMX asks for a fragment of it."""
    return Template(
        template_name=template,
        context={
            "nonce": nonce_of(request),
            "user": user,
            "csrf": user.csrf if user else context.pop("csrf", ""),
            "path": request.url.path,
            **context,
        },
        status_code=status_code,
    )


def back_to(path: str, *, htmx: bool = False) -> Response[Any]:
    """After a successful form post: a 303 redirect (POST/redirect/GET), or HX-Redirect."""
    if htmx:
        return Response(content=b"", status_code=204, headers={"HX-Redirect": path})
    return Redirect(path=path, status_code=303)


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


# -- errors --------------------------------------------------------------------------------------


def error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Console errors as pages a person can read; a lost session goes back to sign-in."""
    if isinstance(exc, Unauthenticated) and request.method == "GET":
        target = f"{PREFIX}/sign-in?next={quote(request.url.path)}"
        return back_to(target, htmx=is_htmx(request))
    if isinstance(exc, ParleyError):
        status, title, detail = exc.status, exc.title, exc.detail
    else:
        status = getattr(exc, "status_code", 500)
        title = "Not found" if status == 404 else "Something went wrong"
        detail = (
            "There is nothing at this address."
            if status == 404
            else (str(getattr(exc, "detail", "")) if status < 500 else "Please try again.")
        )
        if status >= 500:
            _log.exception("console page failed", exc_info=exc)
    user = getattr(request.state, "console_user", None)
    template = "error_fragment.html" if is_htmx(request) else "error.html"
    return page(request, template, user=user, status_code=status, title=title, detail=detail)
