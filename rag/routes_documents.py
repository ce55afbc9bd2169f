"""Documents for owners: upload (multipart, streamed), add a web page, add a Drive folder,
list, read status, re-sync, retry from the stored bytes, delete. All under ``/v1/documents``,
scoped to the caller's tenant.

Uploads are read as a stream and refused as soon as they pass the size limit: a declared
``Content-Length`` over the limit is refused before a byte is read, and a body that grows past
it (chunked uploads) is refused at that point, so a 200 MB upload is never held in memory.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from multipart import (  # type: ignore[import-untyped]
    MultipartError,
    MultipartSegment,
    PushMultipartParser,
    parse_options_header,
)

from rag.chat import check_scope
from rag.services import RagServices
from voice_server.errors import Forbidden, InvalidInput, NotFound, PayloadTooLarge
from voice_server.principal import Principal

FIELD_LIMIT = 10_000  # bytes of a non-file form field (title, bot_id)
MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around the file


class UrlIn(msgspec.Struct, forbid_unknown_fields=True):
    url: Annotated[str, msgspec.Meta(max_length=2048)]
    bot_id: UUID | None = None
    title: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class DriveIn(msgspec.Struct, forbid_unknown_fields=True):
    folder_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    access_token: str | None = None
    service_account: dict[str, Any] | None = None
    bot_id: UUID | None = None


class DriveSyncIn(msgspec.Struct, forbid_unknown_fields=True):
    access_token: str | None = None
    service_account: dict[str, Any] | None = None


def _owner(principal: Principal, scope: str) -> None:
    if principal.kind == "publishable_key":
        raise Forbidden("a widget key cannot manage documents")
    check_scope(principal, scope)


MAX_OFFSET = 1_000_000  # far past any real list; larger values overflow the bigint parameter


def _text(name: str, value: str | None) -> None:
    # PostgreSQL text and jsonb cannot hold NUL: refuse it here rather than fail on insert.
    if value is not None and "\x00" in value:
        raise InvalidInput(f"{name} may not contain NUL (\\u0000) characters", field=name)


def _credentials(access_token: str | None, service_account: dict[str, Any] | None) -> Any:
    if access_token:
        # It travels in an HTTP header: an OAuth bearer token is printable ASCII.
        if not (access_token.isascii() and access_token.isprintable()):
            raise InvalidInput("access_token is not an OAuth token", field="access_token")
        return {"access_token": access_token}
    if service_account:
        if "\\u0000" in json.dumps(service_account):  # jsonb cannot hold NUL either
            raise InvalidInput(
                "service_account may not contain NUL characters", field="service_account"
            )
        return {"service_account": service_account}
    return None


class DocumentsController(Controller):
    path = "/v1/documents"
    tags = ["documents"]

    @post(
        "/",
        status_code=201,
        request_max_body_size=None,  # enforced below, while streaming, with our own limit
        summary="Upload a file (multipart field `file`; optional `title`, `bot_id`)",
    )
    async def upload(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        rag: NamedDependency[RagServices],
    ) -> Response[dict[str, Any]]:
        _owner(principal, "documents:write")
        limit = rag.settings.rag_max_file_bytes
        content_type, options = parse_options_header(request.headers.get("content-type", ""))
        if content_type != "multipart/form-data" or not options.get("boundary"):
            raise InvalidInput("upload the file as multipart/form-data in a field named `file`")
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit + MULTIPART_SLACK:
            raise PayloadTooLarge(
                f"the upload is {int(declared)} bytes; files may be at most {limit} bytes",
                limit_bytes=limit,
            )
        fields, filename, data = await _read_multipart(request, options["boundary"], limit)
        if data is None:
            raise InvalidInput("no `file` field in the form")
        for name, value in (("title", fields.get("title")), ("filename", filename)):
            _text(name, value)
        bot_id = _uuid_field(fields.get("bot_id"))
        submitted = await rag.ingestion.add_bytes(
            tenant_id=principal.tenant_id,
            bot_id=bot_id,
            data=data,
            source_kind="upload",
            source_uri=filename,
            title=fields.get("title") or None,
            default_title=filename,
        )
        return Response(
            {**submitted.document.public(), "duplicate": not submitted.created},
            status_code=201 if submitted.created else 200,
        )

    @post("/url", status_code=201, summary="Add a public web page")
    async def add_url(
        self,
        data: JSONBody[UrlIn],
        principal: NamedDependency[Principal],
        rag: NamedDependency[RagServices],
    ) -> Response[dict[str, Any]]:
        _owner(principal, "documents:write")
        _text("url", data.url)
        _text("title", data.title)
        submitted = await rag.ingestion.add_url(
            tenant_id=principal.tenant_id, bot_id=data.bot_id, url=data.url, title=data.title
        )
        return Response(
            {**submitted.document.public(), "duplicate": not submitted.created},
            status_code=201 if submitted.created else 200,
        )

    @post("/drive", status_code=202, summary="Add a Google Drive folder (synced in background)")
    async def add_drive(
        self,
        data: JSONBody[DriveIn],
        principal: NamedDependency[Principal],
        rag: NamedDependency[RagServices],
    ) -> dict[str, Any]:
        _owner(principal, "documents:write")
        _text("folder_id", data.folder_id)
        credentials = _credentials(data.access_token, data.service_account)
        if credentials is None:
            raise InvalidInput("give an OAuth `access_token` or a `service_account` key")
        source = await rag.ingestion.add_drive_folder(
            tenant_id=principal.tenant_id,
            bot_id=data.bot_id,
            folder_id=data.folder_id,
            credentials=credentials,
        )
        return source.public()

    @get("/drive/{source_id:uuid}", summary="A Drive folder source and its last sync")
    async def drive_status(
        self,
        source_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        rag: NamedDependency[RagServices],
    ) -> dict[str, Any]:
        _owner(principal, "documents:read")
        source = await rag.ingestion.drive_sources.get(principal.tenant_id, source_id)
        if source is None:
            raise NotFound("no such Drive source")
        return source.public()

    @post("/drive/{source_id:uuid}/sync", status_code=202, summary="Re-sync a Drive folder")
    async def drive_sync(
        self,
        source_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        rag: NamedDependency[RagServices],
        data: JSONBody[DriveSyncIn | None] = None,
    ) -> dict[str, Any]:
        _owner(principal, "documents:write")
        credentials = _credentials(data.access_token, data.service_account) if data else None
        source = await rag.ingestion.resync_drive(principal.tenant_id, source_id, credentials)
        return source.public()

    @get("/", summary="List documents, newest first")
    async def list_documents(
        self,
        principal: NamedDependency[Principal],
        rag: NamedDependency[RagServices],
        bot_id: FromQuery[UUID | None] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
        offset: Annotated[int, Parameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> dict[str, Any]:
        _owner(principal, "documents:read")
        rows = await rag.documents.list_documents(
            principal.tenant_id, bot_id=bot_id, limit=limit, offset=offset
        )
        return {"items": [r.public() for r in rows], "limit": limit, "offset": offset}

    @get("/{document_id:uuid}", summary="A document and its processing status")
    async def read(
        self,
        document_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        rag: NamedDependency[RagServices],
    ) -> dict[str, Any]:
        _owner(principal, "documents:read")
        document = await rag.documents.get(principal.tenant_id, document_id)
        if document is None:
            raise NotFound("no such document")
        return document.public()

    @post("/{document_id:uuid}/resync", status_code=202, summary="Fetch the source again")
    async def resync(
        self,
        document_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        rag: NamedDependency[RagServices],
    ) -> dict[str, Any]:
        _owner(principal, "documents:write")
        document = await rag.ingestion.resync(principal.tenant_id, document_id)
        return document.public()

    @post(
        "/{document_id:uuid}/retry",
        status_code=202,
        summary="Process a failed or stuck document again from its stored bytes",
    )
    async def retry(
        self,
        document_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        rag: NamedDependency[RagServices],
    ) -> dict[str, Any]:
        _owner(principal, "documents:write")
        document = await rag.ingestion.retry(principal.tenant_id, document_id)
        return document.public()

    @delete("/{document_id:uuid}", status_code=204, summary="Delete a document and its chunks")
    async def remove(
        self,
        document_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        rag: NamedDependency[RagServices],
    ) -> None:
        _owner(principal, "documents:write")
        await rag.ingestion.delete(principal.tenant_id, document_id)


def _uuid_field(value: str | None) -> UUID | None:
    if not value:
        return None
    try:
        return UUID(value)
    except ValueError:
        raise InvalidInput("bot_id is not a UUID", field="bot_id") from None


async def _read_multipart(
    request: Request[Any, Any, Any], boundary: str, limit: int
) -> tuple[dict[str, str], str | None, bytes | None]:
    fields: dict[str, str] = {}
    filename: str | None = None
    data: bytearray | None = None
    segment: MultipartSegment | None = None
    buffer = bytearray()
    try:
        with PushMultipartParser(boundary, max_segment_count=10) as parser:
            async for chunk in request.stream():
                if not chunk:
                    continue
                for event in parser.parse(chunk):
                    if isinstance(event, MultipartSegment):
                        segment = event
                        buffer = bytearray()
                    elif event is None and segment is not None:
                        if segment.name == "file" and segment.filename is not None:
                            filename, data = segment.filename, buffer
                        else:
                            fields[segment.name] = buffer.decode("utf-8", "replace")
                        segment = None
                    elif segment is not None:
                        buffer += event
                        cap = limit if segment.filename is not None else FIELD_LIMIT
                        if len(buffer) > cap:
                            raise PayloadTooLarge(
                                f"the file is larger than {limit} bytes", limit_bytes=limit
                            )
    except MultipartError as exc:
        raise InvalidInput(f"malformed multipart body ({exc})") from None
    return fields, filename, bytes(data) if data is not None else None
