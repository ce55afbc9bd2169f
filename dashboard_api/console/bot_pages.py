"""Bots: list, create, edit (every setting with its meaning in plain words), duplicate, delete,
and the "Try it" panel (a text turn through the same chat path the widget uses)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, SkipValidation
from litestar.response import Template

from dashboard_api import bots as bot_service
from dashboard_api.bot_schema import BotCreate, BotOut, BotUpdate
from dashboard_api.console.forms import Form
from dashboard_api.console.web import ConsoleUser, back_to, is_htmx, page
from dashboard_api.guards import require_scope
from dashboard_api.origins import origin_allowed
from dashboard_api.repositories import api_keys, bots
from dashboard_api.services import DashboardServices
from rag.chat import check_message
from rag.services import RagServices
from voice_server.db import Database
from voice_server.errors import InvalidInput, ParleyError
from voice_server.turns import TurnService

MAX_BOTS_LISTED = 500

# What the turn-taking knob means, in plain words, next to its value (None: the server's).
SILENCE_CHOICES = [
    (None, "Server default"),
    (400, "Snappy: answers after a short pause (may cut off slow speakers)"),
    (700, "Balanced: the default"),
    (1000, "Patient: waits for longer pauses"),
    (1500, "Very patient: for callers who think aloud"),
]


def bot_fields(form: Form) -> dict[str, Any]:
    """The form as the JSON API's bot body, so the API's schema validates both."""
    return {
        "name": form.text("name", max_length=200).strip(),
        "system_prompt": form.text("system_prompt"),
        "greeting": form.text("greeting", max_length=2000),
        "language": form.text("language", "en", max_length=20).strip() or "en",
        "starter_questions": form.lines("starter_questions"),
        "voice": {
            "voice_id": form.optional("voice_id"),
            "speed": form.optional_number("speed", low=0.5, high=2.0),
            "end_of_turn_silence_ms": _whole(
                form.optional_number("end_of_turn_silence_ms", low=200, high=5000)
            ),
        },
        "knowledge_scope": form.text("knowledge_scope", "tenant", max_length=20),
        "appearance": {
            "primary_color": form.text("primary_color", "#4f46e5", max_length=7),
            "text_color": form.text("text_color", "#ffffff", max_length=7),
            "position": form.text("position", "bottom-right", max_length=20),
            "title": form.text("title", max_length=200),
            "launcher_text": form.text("launcher_text", "Talk to us", max_length=200),
        },
        "allowed_origins": form.lines("allowed_origins"),
        "recording": {
            "enabled": form.checked("recording"),
            "layout": form.text("recording_layout", "stereo", max_length=10),
        },
    }


def _whole(value: float | None) -> int | None:
    return None if value is None else int(value)


def convert(fields: dict[str, Any], kind: type[Any]) -> Any:
    try:
        return msgspec.convert(fields, kind)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"invalid bot settings: {exc}") from None


def _form_page(
    request: Request[Any, Any, Any],
    user: ConsoleUser,
    bot: BotOut | None,
    values: dict[str, Any],
    error: str | None = None,
    status_code: int = 200,
) -> Template:
    return page(
        request,
        "bots/form.html",
        user=user,
        bot=bot,
        v=values,
        error=error,
        silence_choices=SILENCE_CHOICES,
        status_code=status_code,
    )


def _values(bot: BotOut | None) -> dict[str, Any]:
    if bot is None:
        return msgspec.to_builtins(BotCreate(name=""))
    return msgspec.to_builtins(bot)


class BotPages(Controller):
    path = "/bots"

    @get("/")
    async def list_bots(
        self,
        request: Request[Any, Any, Any],
        console_user: NamedDependency[ConsoleUser],
        database: NamedDependency[Database],
        q: FromQuery[str | None] = None,
    ) -> Template:
        require_scope(console_user.principal, "bots:read")
        async with database.pool.acquire() as conn:
            rows = await bots.list_page(
                conn,
                console_user.tenant_id,
                limit=MAX_BOTS_LISTED,
                name_contains=(q or "").strip()[:200] or None,
            )
        items = [bot_service.bot_out(r) for r in rows[:MAX_BOTS_LISTED]]
        return page(
            request,
            "bots/list.html",
            user=console_user,
            bots=items,
            q=q or "",
            more=len(rows) > MAX_BOTS_LISTED,
        )

    @get("/new")
    async def new_form(
        self, request: Request[Any, Any, Any], console_user: NamedDependency[ConsoleUser]
    ) -> Template:
        require_scope(console_user.principal, "bots:write")
        return _form_page(request, console_user, None, _values(None))

    @post("/new")
    async def create(
        self,
        request: Request[Any, Any, Any],
        console_user: NamedDependency[ConsoleUser],
        database: NamedDependency[Database],
    ) -> Response[Any]:
        require_scope(console_user.principal, "bots:write")
        form = await Form.read(request)
        fields: dict[str, Any] = {}
        try:
            fields = bot_fields(form)
            data = convert(fields, BotCreate)
            async with database.pool.acquire() as conn:
                row = await bot_service.create_bot(conn, console_user.tenant_id, data)
        except InvalidInput as exc:
            return _form_page(request, console_user, None, fields or _values(None), exc.detail, 400)
        return back_to(f"/console/bots/{row.id}", htmx=is_htmx(request))

    @get("/{bot_id:uuid}")
    async def detail(
        self,
        request: Request[Any, Any, Any],
        bot_id: FromPath[UUID],
        console_user: NamedDependency[ConsoleUser],
        database: NamedDependency[Database],
        dashboard_services: NamedDependency[DashboardServices],
    ) -> Template:
        require_scope(console_user.principal, "bots:read")
        async with database.pool.acquire() as conn:
            row = await bot_service.get_bot(conn, console_user.tenant_id, bot_id)
            key = await api_keys.newest_publishable_for_bot(conn, console_user.tenant_id, bot_id)
        bot = bot_service.bot_out(row)
        here = str(request.base_url).rstrip("/")
        # The widget may only run here if the bot's key accepts this console's own origin.
        widget_key = None
        if key is not None and origin_allowed(
            here,
            key.allowed_origins,
            allow_localhost=dashboard_services.allow_localhost_origins,
        ):
            widget_key = key.display_key
        return page(
            request,
            "bots/detail.html",
            user=console_user,
            bot=bot,
            widget_key=widget_key,
            console_origin=here,
            answer=None,
        )

    @get("/{bot_id:uuid}/edit")
    async def edit_form(
        self,
        request: Request[Any, Any, Any],
        bot_id: FromPath[UUID],
        console_user: NamedDependency[ConsoleUser],
        database: NamedDependency[Database],
    ) -> Template:
        require_scope(console_user.principal, "bots:write")
        async with database.pool.acquire() as conn:
            bot = bot_service.bot_out(
                await bot_service.get_bot(conn, console_user.tenant_id, bot_id)
            )
        return _form_page(request, console_user, bot, _values(bot))

    @post("/{bot_id:uuid}/edit")
    async def update(
        self,
        request: Request[Any, Any, Any],
        bot_id: FromPath[UUID],
        console_user: NamedDependency[ConsoleUser],
        database: NamedDependency[Database],
    ) -> Response[Any]:
        require_scope(console_user.principal, "bots:write")
        form = await Form.read(request)
        async with database.pool.acquire() as conn:
            current = bot_service.bot_out(
                await bot_service.get_bot(conn, console_user.tenant_id, bot_id)
            )
            fields: dict[str, Any] = {}
            try:
                fields = bot_fields(form)
                voice = {**msgspec.to_builtins(current.voice), **fields["voice"]}
                patch = convert({**fields, "voice": voice}, BotUpdate)
                await bot_service.update_bot(conn, console_user.tenant_id, bot_id, patch)
            except InvalidInput as exc:
                values = {**_values(current), **fields}
                return _form_page(request, console_user, current, values, exc.detail, 400)
        return back_to(f"/console/bots/{bot_id}", htmx=is_htmx(request))

    @post("/{bot_id:uuid}/duplicate")
    async def duplicate(
        self,
        request: Request[Any, Any, Any],
        bot_id: FromPath[UUID],
        console_user: NamedDependency[ConsoleUser],
        database: NamedDependency[Database],
    ) -> Response[Any]:
        require_scope(console_user.principal, "bots:write")
        async with database.pool.acquire() as conn:
            row = await bot_service.duplicate_bot(conn, console_user.tenant_id, bot_id)
        return back_to(f"/console/bots/{row.id}", htmx=is_htmx(request))

    @post("/{bot_id:uuid}/delete")
    async def delete(
        self,
        request: Request[Any, Any, Any],
        bot_id: FromPath[UUID],
        console_user: NamedDependency[ConsoleUser],
        database: NamedDependency[Database],
    ) -> Response[Any]:
        require_scope(console_user.principal, "bots:write")
        async with database.pool.acquire() as conn:
            await bot_service.delete_bot(conn, console_user.tenant_id, bot_id)
        return back_to("/console/bots", htmx=is_htmx(request))

    @post("/{bot_id:uuid}/try")
    async def try_it(
        self,
        request: Request[Any, Any, Any],
        bot_id: FromPath[UUID],
        console_user: NamedDependency[ConsoleUser],
        rag: NamedDependency[RagServices],
        turns: NamedDependency[SkipValidation[TurnService]],
    ) -> Template:
        """One text turn through the same entry point as the chat API (voice_server.turns):
        stored like any conversation (channel text) so it shows up in conversations and
        analytics, billed as a message like the widget's."""
        principal = console_user.principal
        form = await Form.read(request)
        bot = await turns.bot(principal, bot_id, scope="chat")
        conversation_id = form.uuid("conversation_id")
        answer: dict[str, Any] | None = None
        error = None
        try:
            text = check_message(rag, form.text("question"))
            await turns.admit(principal.tenant_id)
            conversation_id = await turns.conversation(
                principal, bot, conversation_id, first_message=text, visitor_id="console"
            )
            events = [e async for e in turns.converse(principal, bot, conversation_id, text)]
            last = events[-1]
            if last["type"] == "error":
                error = str(last["detail"])
            else:
                answer = {"question": text, **last}
        except ParleyError as exc:
            error = exc.detail
        template = "bots/try_result.html" if is_htmx(request) else "bots/try_page.html"
        return page(
            request,
            template,
            user=console_user,
            bot_id=bot_id,
            bot_name=bot.name,
            answer=answer,
            error=error,
            conversation_id=conversation_id,
            status_code=200 if error is None else 400,
        )
