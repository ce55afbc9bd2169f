"""Text PostgreSQL cannot store, answered as the client's mistake (400), not a server error.

JSON strings may carry ``\\u0000``; PostgreSQL ``text`` and ``jsonb`` cannot hold it and refuse
the value when it is bound (SQLSTATE 22021 / 22P05). Every dashboard field ends up in a column,
so the mapping sits at the router instead of in each field's validation.
"""

from __future__ import annotations

from typing import Any

from asyncpg.exceptions import CharacterNotInRepertoireError, UntranslatableCharacterError
from litestar import Request, Response
from litestar.types import ExceptionHandlersMap

from voice_server.problems import problem

NUL_DETAIL = "text may not contain NUL (\\u0000) characters"


def _unstorable_text(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    return problem(
        request, status=400, slug="invalid-input", title="Invalid input", detail=NUL_DETAIL
    )


def text_exception_handlers() -> ExceptionHandlersMap:
    return {
        CharacterNotInRepertoireError: _unstorable_text,
        UntranslatableCharacterError: _unstorable_text,
    }
