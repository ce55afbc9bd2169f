"""Parley's error tree. Domain code raises these; HTTP and WebSocket mapping happens once.

    ParleyError                     500  unexpected server-side failure
    ├── InvalidInput                400  malformed or out-of-range input
    ├── Unauthenticated             401  no or bad credentials
    ├── Forbidden                   403  credentials valid, action not allowed
    ├── NotFound                    404  absent, or belongs to another tenant
    ├── Conflict                    409  state does not allow the action
    ├── PayloadTooLarge             413  body or upload over its limit
    ├── UnsupportedMediaType        415  content of a type we do not take
    ├── QuotaExceeded               402  the plan's limit is reached
    ├── RateLimited                 429  too many requests; carries retry_after_s
    └── ServiceUnavailable          503  a dependency (database, vendor) is down

Each class carries the RFC 9457 ``type`` slug, a stable ``title`` and an HTTP ``status``; the
instance carries the human ``detail`` and optional extension members.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ParleyError(Exception):
    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal server error"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class InvalidInput(ParleyError):
    status = 400
    slug = "invalid-input"
    title = "Invalid input"


class Unauthenticated(ParleyError):
    status = 401
    slug = "unauthenticated"
    title = "Authentication required"


class Forbidden(ParleyError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


class NotFound(ParleyError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(ParleyError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class PayloadTooLarge(ParleyError):
    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaType(ParleyError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


class QuotaExceeded(ParleyError):
    status = 402
    slug = "quota-exceeded"
    title = "Plan limit reached"


class RateLimited(ParleyError):
    status = 429
    slug = "rate-limited"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after_s: int, **extensions: Any) -> None:
        super().__init__(detail, retry_after_s=retry_after_s, **extensions)
        self.retry_after_s = retry_after_s


class ServiceUnavailable(ParleyError):
    status = 503
    slug = "service-unavailable"
    title = "Service unavailable"


class VisitorUnavailable(ServiceUnavailable):
    """What a website visitor is told instead of the owner's plan, limits and usage."""

    slug = "unavailable"
    title = "Unavailable"


VISITOR_UNAVAILABLE = "this assistant is unavailable right now; please try again later"


def for_visitor(exc: ParleyError) -> ParleyError:
    """``exc`` as a website visitor may see it: a plan limit says only "unavailable"."""
    return VisitorUnavailable(VISITOR_UNAVAILABLE) if isinstance(exc, QuotaExceeded) else exc


class DatabaseUnavailable(ServiceUnavailable):
    slug = "database-unavailable"
    title = "Database unavailable"


class DatabaseSetupError(ParleyError):
    """The database cannot be used as configured (no pgvector, bad URL, failed migration)."""

    slug = "database-setup"
    title = "Database setup failed"
