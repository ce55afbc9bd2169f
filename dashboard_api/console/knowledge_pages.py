"""Knowledge: upload several files (drag and drop), add a web page or a Drive folder, watch
each document's status live (HTMX polls the rows while any is queued or processing), re-sync,
delete. Every action goes through rag's ingestion service, as the JSON API does."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from multipart import parse_options_header  # type: ignore[import-untyped]

from dashboard_api.console.cookies import CSRF_FIELD, CSRF_HEADER
from dashboard_api.console.forms import Form
from dashboard_api.console.uploads import UploadedFile, read_files
from dashboard_api.console.web import (
    CSRF_IN_HANDLER,
    ConsoleUser,
    back_to,
    check_csrf,
    is_htmx,
    page,
)
from dashboard_api.guards import require_scope
from dashboard_api.repositories import bots
from rag.services import RagServices
from voice_server.db import Database
from voice_server.errors import InvalidInput, ParleyError

LISTED = 200
BUSY = ("queued", "processing")


async def _rows_context(rag: RagServices, user: ConsoleUser, bot_id: UUID | None) -> dict[str, Any]:
    rows = await rag.documents.list_documents(user.tenant_id, bot_id=bot_id, limit=LISTED)
    documents = [r.public() for r in rows]
    return {
        "documents": documents,
        "busy": any(d["status"] in BUSY for d in documents),
        "bot_id": bot_id,
    }


class KnowledgePages(Controller):
    path = "/knowledge"

    @get("/")
    async def index(
        self,
        request: Request[Any, Any, Any],
        console_user: NamedDependency[ConsoleUser],
        rag: NamedDependency[RagServices],
        database: NamedDependency[Database],
        bot_id: FromQuery[UUID | None] = None,
        notice: FromQuery[str | None] = None,
    ) -> Template:
        require_scope(console_user.principal, "documents:read")
        async with database.pool.acquire() as conn:
            if bot_id is not None and await bots.get(conn, console_user.tenant_id, bot_id) is None:
                bot_id = None  # another tenant's bot filters nothing, and says nothing of it
            bot_rows = await bots.list_page(conn, console_user.tenant_id, limit=500)
        context = await _rows_context(rag, console_user, bot_id)
        return page(
            request,
            "knowledge/index.html",
            user=console_user,
            bots=bot_rows,
            notice=(notice or "")[:200] or None,
            error=None,
            **context,
        )

    @get("/rows")
    async def rows(
        self,
        request: Request[Any, Any, Any],
        console_user: NamedDependency[ConsoleUser],
        rag: NamedDependency[RagServices],
        bot_id: FromQuery[UUID | None] = None,
    ) -> Template:
        require_scope(console_user.principal, "documents:read")
        context = await _rows_context(rag, console_user, bot_id)
        return page(request, "knowledge/rows.html", user=console_user, **context)

    @post("/upload", opt={"csrf": CSRF_IN_HANDLER}, request_max_body_size=None)
    async def upload(
        self,
        request: Request[Any, Any, Any],
        console_user: NamedDependency[ConsoleUser],
        rag: NamedDependency[RagServices],
    ) -> Response[Any]:
        require_scope(console_user.principal, "documents:write")
        content_type, options = parse_options_header(request.headers.get("content-type", ""))
        if content_type != "multipart/form-data" or not options.get("boundary"):
            await check_csrf(request)  # a forged post is told so, whatever its body
            raise InvalidInput("choose one or more files to upload")
        added: list[str] = []

        async def check(fields: dict[str, str]) -> None:
            header = request.headers.get(CSRF_HEADER)
            await check_csrf(request, header if header is not None else fields.get(CSRF_FIELD, ""))

        async def store(file: UploadedFile, fields: dict[str, str]) -> None:
            bot_id = Form({"bot_id": [fields.get("bot_id", "")]}).uuid("bot_id")
            submitted = await rag.ingestion.add_bytes(
                tenant_id=console_user.tenant_id,
                bot_id=bot_id,
                data=file.data,
                source_kind="upload",
                source_uri=file.filename,
                title=None,
                default_title=file.filename,
            )
            added.append(submitted.document.title)

        await read_files(
            request.stream(),
            options["boundary"],
            max_file_bytes=rag.settings.rag_max_file_bytes,
            before_first_file=check,
            on_file=store,
        )
        if not added:
            raise InvalidInput("choose one or more files to upload")
        return back_to(f"/console/knowledge?notice=Added {len(added)} file(s)", htmx=False)

    @post("/url")
    async def add_url(
        self,
        request: Request[Any, Any, Any],
        console_user: NamedDependency[ConsoleUser],
        rag: NamedDependency[RagServices],
    ) -> Response[Any]:
        require_scope(console_user.principal, "documents:write")
        form = await Form.read(request)
        url = form.text("url", max_length=2048).strip()
        if not url:
            raise InvalidInput("enter the web page's address", field="url")
        await rag.ingestion.add_url(
            tenant_id=console_user.tenant_id,
            bot_id=form.uuid("bot_id"),
            url=url,
            title=form.optional("title"),
        )
        return back_to("/console/knowledge?notice=Web page added", htmx=is_htmx(request))

    @post("/drive")
    async def add_drive(
        self,
        request: Request[Any, Any, Any],
        console_user: NamedDependency[ConsoleUser],
        rag: NamedDependency[RagServices],
    ) -> Response[Any]:
        require_scope(console_user.principal, "documents:write")
        form = await Form.read(request)
        folder = form.text("folder_id", max_length=200).strip()
        token = form.text("access_token", max_length=4000).strip()
        if not folder or not token:
            raise InvalidInput("give the Drive folder's id and an access token")
        if not (token.isascii() and token.isprintable()):
            raise InvalidInput("the access token is not an OAuth token", field="access_token")
        await rag.ingestion.add_drive_folder(
            tenant_id=console_user.tenant_id,
            bot_id=form.uuid("bot_id"),
            folder_id=folder,
            credentials={"access_token": token},
        )
        return back_to("/console/knowledge?notice=Drive folder added", htmx=is_htmx(request))

    @post("/{document_id:uuid}/resync")
    async def resync(
        self,
        request: Request[Any, Any, Any],
        document_id: FromPath[UUID],
        console_user: NamedDependency[ConsoleUser],
        rag: NamedDependency[RagServices],
    ) -> Response[Any]:
        require_scope(console_user.principal, "documents:write")
        try:
            await rag.ingestion.resync(console_user.tenant_id, document_id)
        except ParleyError as exc:
            if exc.status == 404:
                raise
            return back_to(f"/console/knowledge?notice={exc.detail[:150]}", htmx=is_htmx(request))
        return back_to("/console/knowledge?notice=Re-sync started", htmx=is_htmx(request))

    @post("/{document_id:uuid}/delete")
    async def delete(
        self,
        request: Request[Any, Any, Any],
        document_id: FromPath[UUID],
        console_user: NamedDependency[ConsoleUser],
        rag: NamedDependency[RagServices],
    ) -> Response[Any]:
        require_scope(console_user.principal, "documents:write")
        await rag.ingestion.delete(console_user.tenant_id, document_id)
        return back_to("/console/knowledge?notice=Document deleted", htmx=is_htmx(request))
