"""Text chat: ``POST /v1/bots/{bot_id}/chat`` (SSE or JSON), its WebSocket twin, transcripts.

SSE events, one JSON object per ``data:`` line, named by ``event:``:
``conversation`` (its id), ``delta`` (text), ``tool_call``, ``citation``, then ``done`` (text,
citations, usage, timings, message id) or ``error`` (code, status, detail).

WebSocket ``/v1/bots/{bot_id}/chat/ws``: the client sends ``{"type": "message", "text": ...,
"conversation_id"?: ...}`` or ``{"type": "cancel"}``; the server sends ``ready`` once, then
the same events as SSE with a ``type`` member. Errors are the voice socket's error event
(``code``, ``message``, ``fatal``, plus ``status`` and ``detail``); close codes are in
docs/voice-protocol.md (4403, 4404, 1011).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

import anyio
import msgspec
from litestar import Controller, Request, Response, WebSocket, get, post, websocket
from litestar.di import NamedDependency
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath, JSONBody, Parameter, SkipValidation
from litestar.response import Stream

from rag.chat import check_message, check_scope, error_event, load_bot
from rag.services import RagServices
from voice_server.brain import BotProfile
from voice_server.errors import Forbidden, InvalidInput, NotFound, ParleyError, for_visitor
from voice_server.principal import Principal
from voice_server.runtime import VISITOR_MESSAGES, Runtime, VisitorMessages
from voice_server.turns import TurnService
from voice_server.wire import CLOSE_FORBIDDEN, CLOSE_INTERNAL, CLOSE_NOT_FOUND, ErrorEvent

_log = logging.getLogger("parley.chat")


class ChatIn(msgspec.Struct, forbid_unknown_fields=True):
    message: str
    conversation_id: UUID | None = None
    stream: bool = True
    visitor_id: Annotated[str, msgspec.Meta(max_length=200)] | None = None


def _sse(event: dict[str, Any]) -> bytes:
    name = event.get("type", "message")
    body = {k: v for k, v in event.items() if k != "type"}
    return f"event: {name}\ndata: {json.dumps(body, default=str)}\n\n".encode()


class ChatController(Controller):
    path = "/v1/bots/{bot_id:uuid}"
    tags = ["chat"]

    @post(
        "/chat",
        status_code=200,
        summary="Ask the bot; streams Server-Sent Events unless `stream` is false",
    )
    async def chat(
        self,
        bot_id: FromPath[UUID],
        data: JSONBody[ChatIn],
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        rag: NamedDependency[RagServices],
        # TurnService is a plain (not runtime-checkable) Protocol: nothing to validate.
        turns: NamedDependency[SkipValidation[TurnService]],
    ) -> Response[Any] | Stream:
        bot = await turns.bot(principal, bot_id, scope="chat")
        text = check_message(rag, data.message)
        await turns.admit(principal.tenant_id)  # 402 once the plan's messages are used
        conversation_id = await turns.conversation(
            principal, bot, data.conversation_id, first_message=text, visitor_id=data.visitor_id
        )
        accept = request.headers.get("accept", "")
        wants_json = not data.stream or (
            "application/json" in accept and "text/event-stream" not in accept
        )
        turn = turns.converse(principal, bot, conversation_id, text)
        if wants_json:
            events = [event async for event in turn]
            last = events[-1]
            if last["type"] == "error":
                raise _as_error(last)
            tool_calls = [
                {"name": e["name"], "arguments": e["arguments"]}
                for e in events
                if e["type"] == "tool_call"
            ]
            return Response({**{k: v for k, v in last.items() if k != "type"},
                             "tool_calls": tool_calls})  # fmt: skip

        async def body() -> AsyncIterator[bytes]:
            # Closing the stream (client gone) closes the turn: the model stops and what was
            # written so far is stored as an interrupted reply. Litestar cancels the stream
            # through an anyio cancel scope, which would cancel every await of that cleanup
            # too, so the cleanup runs shielded.
            try:
                async for event in turn:
                    yield _sse(event)
            finally:
                with anyio.CancelScope(shield=True):
                    await turn.aclose()

        return Stream(
            body(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @get(
        "/conversations",
        summary="List the bot's conversations, newest first (alias)",
        description="An alias kept for existing clients of `GET /v1/conversations?bot_id=...`, "
        "the transcript API (filters, search, export).",
    )
    async def list_conversations(
        self,
        bot_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        rag: NamedDependency[RagServices],
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
        offset: Annotated[int, Parameter(ge=0, le=1_000_000)] = 0,
    ) -> dict[str, Any]:
        _owner_only(principal)
        check_scope(principal, "conversations:read")
        bot = await load_bot(rag, principal, bot_id)
        items = await rag.conversations.list_conversations(
            principal.tenant_id, bot.id, limit=limit, offset=offset
        )
        return {"items": items, "limit": limit, "offset": offset}

    @get(
        "/conversations/{conversation_id:uuid}",
        summary="A conversation's transcript (alias)",
        description="An alias kept for existing clients of `GET /v1/conversations/{id}`.",
    )
    async def transcript(
        self,
        bot_id: FromPath[UUID],
        conversation_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        rag: NamedDependency[RagServices],
    ) -> dict[str, Any]:
        _owner_only(principal)
        check_scope(principal, "conversations:read")
        bot = await load_bot(rag, principal, bot_id)
        found = await rag.conversations.transcript(principal.tenant_id, bot.id, conversation_id)
        if found is None:
            raise NotFound("no such conversation")
        return found


def _owner_only(principal: Principal) -> None:
    if principal.kind == "publishable_key":
        raise Forbidden("a widget key cannot read conversations")


def _as_error(event: dict[str, Any]) -> ParleyError:
    from voice_server.errors import RateLimited, ServiceUnavailable

    if event.get("code") == "rate_limited":
        return RateLimited(event["detail"], retry_after_s=int(event.get("retry_after_s", 1)))
    if event.get("status") == 400:
        return InvalidInput(event["detail"])
    return ServiceUnavailable(event["detail"], code=event.get("code"))


@websocket("/v1/bots/{bot_id:uuid}/chat/ws")
async def chat_socket(
    socket: WebSocket[Any, Any, Any],
    bot_id: FromPath[UUID],
    principal: NamedDependency[Principal],
    rag: NamedDependency[RagServices],
    turns: NamedDependency[SkipValidation[TurnService]],
    runtime: NamedDependency[SkipValidation[Runtime]],
) -> None:
    await socket.accept()
    try:
        bot = await turns.bot(principal, bot_id, scope="chat")
    except ParleyError as exc:
        await socket.send_json(error_event(exc) | {"fatal": True})
        await socket.close(code=CLOSE_NOT_FOUND if exc.status == 404 else CLOSE_FORBIDDEN)
        return
    try:
        caps = runtime.find(VISITOR_MESSAGES) if principal.kind == "publishable_key" else None
        await _converse(socket, principal, rag, turns, bot, caps)
    except WebSocketDisconnect:
        pass
    except Exception:
        # Not Litestar's bare 4500: the documented error event and close 1011.
        _log.exception("chat socket failed")
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await socket.send_json(
                ErrorEvent("internal_error", "the server failed", fatal=True).to_wire()
            )
            await socket.close(code=CLOSE_INTERNAL)


async def _converse(
    socket: WebSocket[Any, Any, Any],
    principal: Principal,
    rag: RagServices,
    turns: TurnService,
    bot: BotProfile,
    visitor_caps: VisitorMessages | None,
) -> None:
    await socket.send_json({"type": "ready", "bot": {"id": str(bot.id), "name": bot.name,
                                                     "greeting": bot.greeting}})  # fmt: skip
    conversation_id: UUID | None = None
    current: asyncio.Task[None] | None = None

    async def turn(text: str, wanted: UUID | None) -> None:
        nonlocal conversation_id
        try:
            if visitor_caps is not None:  # a widget visitor: each message counts, as over HTTP
                await visitor_caps.count(socket.scope, bot.id)
            await turns.admit(principal.tenant_id)
            conversation_id = await turns.conversation(
                principal, bot, wanted or conversation_id, first_message=text, visitor_id=None
            )
            async for event in turns.converse(principal, bot, conversation_id, text):
                await socket.send_json(event)
        except ParleyError as exc:
            visitor = principal.kind == "publishable_key"
            await socket.send_json(error_event(for_visitor(exc) if visitor else exc))

    try:
        while True:
            raw = await socket.receive_data(mode="text")
            try:
                message = json.loads(raw)
            except (ValueError, RecursionError):  # not JSON, or nested thousands deep
                invalid = ErrorEvent("invalid_json", "the message is not JSON, or nested too deep")
                await socket.send_json(invalid.to_wire())
                continue
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "cancel":
                if current is not None and not current.done():
                    current.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await current
                    await socket.send_json({"type": "cancelled"})
                continue
            if kind != "message":
                await socket.send_json(error_event(InvalidInput(
                    'send {"type": "message", "text": ...} or {"type": "cancel"}')))  # fmt: skip
                continue
            if current is not None and not current.done():
                await socket.send_json(error_event(InvalidInput(
                    "a reply is still being written; cancel it first")))  # fmt: skip
                continue
            try:
                text = check_message(rag, str(message.get("text", "")))
                wanted = message.get("conversation_id")
                wanted_id = UUID(wanted) if wanted else None
            except (ParleyError, ValueError, TypeError) as exc:
                problem = exc if isinstance(exc, ParleyError) else InvalidInput(str(exc))
                await socket.send_json(error_event(problem))
                continue
            current = asyncio.create_task(turn(text, wanted_id))
    except WebSocketDisconnect:
        pass
    finally:
        if current is not None and not current.done():
            current.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await current
