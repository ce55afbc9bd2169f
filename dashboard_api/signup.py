"""Who may create an organisation (``PARLEY_SIGNUP``): open, invite or closed.

Every new organisation spends the operator's vendor keys, so by default (``invite``) sign-up
needs an invitation code from the operator (``parley signup-invite EMAIL``): a short-lived
HS256 token bound to one email address, signed with the server's token-signing secret, good
for one account. ``closed`` refuses every sign-up; ``open`` takes anyone (a hosted service with
its own billing). Whatever the mode, the server's very first account may always be created.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jwt

from dashboard_api.repositories import users
from voice_server.db.types import Connection
from voice_server.errors import Forbidden

_AUDIENCE = "parley-signup"
_ALGORITHM = "HS256"
CLOSED = "sign-up is closed on this server; ask its operator for an account"
NEEDS_INVITE = (
    "sign-up on this server is by invitation: give the `invite` code the operator sent you"
)
BAD_INVITE = "this invitation code is not valid for this email address, or has expired"


class SignupInvites:
    def __init__(self, secret: bytes, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self._clock = clock

    def issue(self, email: str, *, ttl_s: int = 7 * 86400) -> str:
        now = int(self._clock())
        claims = {"aud": _AUDIENCE, "email": email, "iat": now, "exp": now + ttl_s}
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM)

    def valid_for(self, code: str, email: str) -> bool:
        try:
            claims = jwt.decode(
                code,
                self._secret,
                algorithms=[_ALGORITHM],
                audience=_AUDIENCE,
                options={"require": ["exp", "iat", "email"], "verify_exp": False},
            )
        except jwt.PyJWTError:
            return False
        expires_at = claims["exp"]
        return (
            isinstance(expires_at, int | float)
            and expires_at > self._clock()
            and claims["email"] == email
        )


async def check_signup(
    conn: Connection, mode: str, invites: SignupInvites, *, email: str, invite: str | None
) -> None:
    """Forbidden unless this sign-up may create an organisation (``email`` normalised)."""
    if mode == "open" or not await users.any_exist(conn):
        return
    if mode == "closed":
        raise Forbidden(CLOSED, code="signup_closed")
    if invite is None:
        raise Forbidden(NEEDS_INVITE, code="signup_invite_required")
    # One account per code: once the address has an account, the code is spent.
    if not invites.valid_for(invite, email) or await users.find_for_login(conn, email):
        raise Forbidden(BAD_INVITE, code="signup_invite_invalid")
