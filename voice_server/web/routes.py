"""HTTP routes of the browser-facing web: the widget script, a bot's public config, the demo."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from dashboard_api.bot_schema import Appearance
from dashboard_api.keys import key_matches, parse_key
from dashboard_api.origins import origin_allowed
from dashboard_api.repositories import api_keys, bots
from voice_server.db import Database
from voice_server.errors import Forbidden, NotFound, ServiceUnavailable, Unauthenticated
from voice_server.web.bundle import WidgetBundle
from voice_server.web.demo import Demo
from voice_server.web.page import content_security_policy, demo_page, embed_tag, new_nonce

_YEAR = 365 * 24 * 3600


class PublicBot(msgspec.Struct):
    """What any visitor of an allowed website may know about a bot."""

    id: UUID
    name: str
    greeting: str
    language: str
    appearance: Appearance
    starter_questions: list[str]


def widget_script(bundle: WidgetBundle | None) -> Any:
    @get("/widget/{name:str}", include_in_schema=False, sync_to_thread=False)
    def script(name: FromPath[str]) -> Response[bytes]:
        """``parley.js`` (revalidated every 5 minutes) or ``parley.<hash>.js`` (immutable)."""
        if bundle is None:
            raise NotFound("the widget is not built: run `make widget`")
        if name == "parley.js":
            cache = "public, max-age=300"
        elif name == bundle.versioned_path.rsplit("/", 1)[1]:
            cache = f"public, max-age={_YEAR}, immutable"
        else:
            raise NotFound("no such widget file")
        return Response(
            bundle.body,
            media_type="text/javascript; charset=utf-8",
            headers={
                "Cache-Control": cache,
                "ETag": f'"{bundle.digest}"',
                # Any site may load the script, with SRI (crossorigin) and as an audio worklet
                # module (always a CORS fetch). It is public and carries no credentials.
                "Access-Control-Allow-Origin": "*",
                "Cross-Origin-Resource-Policy": "cross-origin",
                "X-Content-Type-Options": "nosniff",
            },
        )

    return script


@get("/v1/bots/{bot_id:uuid}/public", tags=["widget"], summary="A bot's public widget config")
async def public_config(
    bot_id: FromPath[UUID],
    request: Request[Any, Any, Any],
    database: NamedDependency[Database],
    key: Annotated[str | None, QueryParameter(name="key", max_length=200)] = None,
) -> PublicBot:
    """Name, greeting, language, appearance and starter questions, for the widget's publishable
    key (``X-Parley-Key`` or ``?key=``). A browser's Origin must be one of the key's origins;
    a same-origin GET carries none, and this answer is public anyway, so none is accepted."""
    text = request.headers.get("x-parley-key") or key
    parsed = parse_key(text or "")
    if text is None or parsed is None or parsed.kind != "publishable":
        raise Unauthenticated("a publishable key is required (X-Parley-Key or ?key=)")
    async with database.pool.acquire() as conn:
        row = await api_keys.find_by_prefix(conn, parsed.prefix)
        if row is None or row.revoked_at is not None or not key_matches(text, row.key_hash):
            raise Unauthenticated("unknown or revoked key")
        origin = request.headers.get("origin")
        if origin is not None and not origin_allowed(origin, row.allowed_origins):
            raise Forbidden(f"this key may not be used from {origin}; add it to the key's origins")
        if row.bot_id != bot_id:
            raise NotFound("no such bot")
        bot = await bots.get(conn, row.tenant_id, bot_id)
    if bot is None:
        raise NotFound("no such bot")
    try:
        appearance = msgspec.convert(bot.config.get("appearance") or {}, Appearance)
    except msgspec.ValidationError:
        appearance = Appearance()
    return PublicBot(
        id=bot.id,
        name=bot.name,
        greeting=bot.greeting,
        language=bot.language,
        appearance=appearance,
        starter_questions=[str(q) for q in bot.config.get("starter_questions", [])],
    )


def demo_route(holder: dict[str, Demo], bundle: WidgetBundle | None, public_url: str | None) -> Any:
    @get("/", include_in_schema=False, sync_to_thread=False)
    def demo(request: Request[Any, Any, Any]) -> Response[str]:
        found = holder.get("demo")
        if found is None:
            raise ServiceUnavailable("the demo is being prepared; retry shortly")
        base = public_url or str(request.base_url)
        nonce = new_nonce()
        bot_id, key = str(found.bot_id), found.publishable_key
        return Response(
            demo_page(
                tag=embed_tag(base, bot_id, key, bundle, nonce=nonce),
                snippet=embed_tag(base, bot_id, key, bundle),
                nonce=nonce,
            ),
            media_type="text/html; charset=utf-8",
            headers={
                "Content-Security-Policy": content_security_policy(nonce),
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    return demo
