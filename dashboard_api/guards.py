"""Checks controllers make about the caller, raising the errors clients expect."""

from __future__ import annotations

from uuid import UUID

from voice_server.errors import Forbidden, NotFound
from voice_server.principal import Principal


def require_scope(principal: Principal, scope: str) -> None:
    if scope not in principal.scopes:
        raise Forbidden(f"this credential lacks the `{scope}` scope", required_scope=scope)


def require_user(principal: Principal) -> UUID:
    """The calling user's id; API keys may not manage accounts."""
    if principal.kind != "user" or principal.user_id is None:
        raise Forbidden("only a logged-in user may do this, not an API key")
    return principal.user_id


def require_role(principal: Principal, *roles: str) -> UUID:
    user_id = require_user(principal)
    if principal.role not in roles:
        raise Forbidden(f"this needs the role {' or '.join(roles)}")
    return user_id


def require_bot_access(principal: Principal, bot_id: UUID) -> None:
    """A publishable key sees only its own bot; other ids look absent."""
    if not principal.may_use_bot(bot_id):
        raise NotFound("no such bot")
