"""What each user role may do, in the same scope vocabulary as API keys."""

from __future__ import annotations

from dashboard_api.keys import SECRET_SCOPES

ROLES = ("owner", "admin", "member")

_READ = frozenset(s for s in SECRET_SCOPES if s.endswith(":read")) | {"chat"}
_MANAGE = frozenset(SECRET_SCOPES) | {"keys:read", "keys:write", "members:write"}

ROLE_SCOPES: dict[str, frozenset[str]] = {
    "owner": _MANAGE | {"billing:write", "tenant:write"},
    "admin": _MANAGE,
    "member": _READ,
}


def scopes_for_role(role: str) -> frozenset[str]:
    return ROLE_SCOPES.get(role, frozenset())
