"""The one place where exceptions become RFC 9457 problem documents.

Domain code raises :mod:`voice_server.errors`; Litestar's own HTTP exceptions (unknown route,
wrong method, request validation) are translated here too, so every error a client sees has the
same shape: ``type``, ``title``, ``status``, ``detail``, ``instance`` and a ``request_id``.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from voice_server.errors import VISITOR_UNAVAILABLE, ParleyError, QuotaExceeded, RateLimited
from voice_server.principal import is_visitor
from voice_server.request_context import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://parley.dev/problems/"

_log = logging.getLogger("parley.errors")

_HTTP_SLUGS = {
    400: ("invalid-input", "Invalid input"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("rate-limited", "Too many requests"),
}


def problem(
    request: Request[Any, Any, Any],
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": current_request_id(),
        **extensions,
    }
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _parley_error(request: Request[Any, Any, Any], exc: ParleyError) -> Response[dict[str, Any]]:
    if isinstance(exc, QuotaExceeded) and is_visitor(request.scope):
        # A website visitor learns nothing of the owner's plan, limits or usage.
        return problem(
            request,
            status=503,
            slug="unavailable",
            title="Unavailable",
            detail=VISITOR_UNAVAILABLE,
        )
    headers = None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after_s)}
    if exc.status >= 500:
        # A ParleyError is a refusal the code chose (billing not configured, a provider down):
        # one line, no traceback. Tracebacks are for the unexpected (_unexpected below).
        cause = exc.__cause__ or exc.__context__
        _log.warning(
            "request refused: %s %s %s%s",
            exc.status,
            request.url.path,
            exc.detail,
            f" (cause: {type(cause).__name__}: {cause})" if cause else "",
        )
    return problem(
        request,
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        headers=headers,
        **exc.extensions,
    )


def _http_exception(
    request: Request[Any, Any, Any], exc: HTTPException
) -> Response[dict[str, Any]]:
    slug, title = _HTTP_SLUGS.get(exc.status_code, ("http-error", "HTTP error"))
    extensions: dict[str, Any] = {}
    detail = str(exc.detail)
    if isinstance(exc, ValidationException) and exc.extra:
        extensions["errors"] = exc.extra
        # Name the first bad field in `detail`, so a client shows something actionable.
        first = exc.extra[0] if isinstance(exc.extra, list) else None
        if isinstance(first, dict) and first.get("key"):
            extensions["field"] = first["key"]
            detail = f"invalid `{first['key']}`: {first.get('message', 'invalid value')}"
    if exc.status_code >= 500:
        slug, title = "internal-error", "Internal server error"
    return problem(
        request,
        status=exc.status_code,
        slug=slug,
        title=title,
        detail=detail,
        headers=dict(exc.headers) if exc.headers else None,
        **extensions,
    )


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # Details of unexpected failures stay in the log; the client gets the request id to quote.
    _log.error("unhandled error", exc_info=exc)
    return problem(
        request,
        status=500,
        slug="internal-error",
        title="Internal server error",
        detail="An unexpected error occurred; quote the request id when reporting it.",
    )


def exception_handlers() -> ExceptionHandlersMap:
    return {
        ParleyError: _parley_error,
        HTTPException: _http_exception,
        Exception: _unexpected,
    }


__all__ = ["PROBLEM_MEDIA_TYPE", "MediaType", "exception_handlers", "problem"]
