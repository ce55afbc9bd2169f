"""Who is calling: the one thing the voice and chat code knows about authentication.

``dashboard_api`` turns credentials (user token, secret key, publishable widget key + Origin)
into a :class:`Principal` and provides it as the app-wide ``principal`` dependency. Everything
else asks for ``principal: Principal`` and scopes its queries by ``principal.tenant_id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

PrincipalKind = Literal["user", "secret_key", "publishable_key"]


@dataclass(frozen=True)
class Principal:
    tenant_id: UUID
    kind: PrincipalKind
    user_id: UUID | None = None
    key_id: UUID | None = None
    role: str | None = None  # owner, admin, member (users only)
    # A publishable key is bound to one bot; any other bot id answers 404 for it.
    bot_id: UUID | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    def may_use_bot(self, bot_id: UUID) -> bool:
        return self.bot_id is None or self.bot_id == bot_id


# Set on a request's scope by the authenticating package when the caller is an anonymous
# website visitor (a publishable key or a session token): errors then say "unavailable" and
# never show the owner's plan or usage (voice_server.problems).
_VISITOR_KEY = "parley.visitor"


def mark_visitor(scope: Any) -> None:
    scope.setdefault("state", {})[_VISITOR_KEY] = True


def is_visitor(scope: Any) -> bool:
    return bool(scope.get("state", {}).get(_VISITOR_KEY))
