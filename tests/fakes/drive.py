"""A local fake of the Google Drive v3 REST API (and Google's OAuth token endpoint).

Speaks what Parley's Drive adapter uses: ``GET /drive/v3/files`` with a ``'<folder>' in
parents`` query and page tokens, ``GET /drive/v3/files/{id}/export?mimeType=...`` for Google
Docs, ``GET /drive/v3/files/{id}?alt=media`` for stored files, and ``POST /token`` for the
service-account JWT grant. Errors are Google's JSON shape. A token can be revoked after a
number of requests to test a sync that loses its credentials midway.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from litestar import Litestar, Request, Response, get, post

from tests.support.server import serve_app

GOOGLE_DOC = "application/vnd.google-apps.document"
FOLDER = "application/vnd.google-apps.folder"


@dataclass
class FakeFile:
    id: str
    name: str
    mime_type: str
    parents: list[str]
    content: bytes
    modified_time: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    trashed: bool = False

    def resource(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "mimeType": self.mime_type,
            "modifiedTime": self.modified_time,
            "webViewLink": f"https://drive.google.com/file/d/{self.id}/view",
        }
        if not self.mime_type.startswith("application/vnd.google-apps."):
            out["md5Checksum"] = hashlib.md5(self.content).hexdigest()
            out["size"] = str(len(self.content))
        return out


@dataclass
class FakeDrive:
    tokens: set[str] = field(default_factory=lambda: {"ya29.valid-token"})
    files: dict[str, FakeFile] = field(default_factory=dict)
    page_size: int = 2  # small pages so that paging is always exercised
    revoke_after: int | None = None  # revoke every token after this many authorised requests
    latency_s: float = 0.0
    requests: list[str] = field(default_factory=list)
    _authorised: int = 0

    def add(
        self, name: str, content: bytes | str, *, folder: str, mime_type: str = GOOGLE_DOC
    ) -> FakeFile:
        data = content.encode() if isinstance(content, str) else content
        file = FakeFile(uuid.uuid4().hex[:16], name, mime_type, [folder], data)
        self.files[file.id] = file
        return file

    def change(self, file_id: str, content: bytes | str) -> None:
        file = self.files[file_id]
        file.content = content.encode() if isinstance(content, str) else content
        file.modified_time = datetime.now(UTC).isoformat()

    def app(self) -> Litestar:
        drive = self

        def authorise(request: Request[Any, Any, Any]) -> Response[Any] | None:
            header = request.headers.get("authorization", "")
            token = header.removeprefix("Bearer ")
            if token not in drive.tokens:
                return _google_error(401, "Invalid Credentials", "authError")
            drive._authorised += 1
            if drive.revoke_after is not None and drive._authorised > drive.revoke_after:
                drive.tokens.clear()
                return _google_error(401, "Invalid Credentials", "authError")
            return None

        @get("/drive/v3/files")
        async def list_files(request: Request[Any, Any, Any]) -> Response[Any]:
            drive.requests.append("list")
            await asyncio.sleep(drive.latency_s)
            if (denied := authorise(request)) is not None:
                return denied
            query = request.query_params.get("q", "")
            match = re.search(r"'((?:[^'\\]|\\.)*)' in parents", query)
            folder = match.group(1) if match else None
            matching = [
                f
                for f in drive.files.values()
                if (folder is None or folder in f.parents)
                and not (f.trashed and "trashed = false" in query)
            ]
            start = int(request.query_params.get("pageToken") or 0)
            page = matching[start : start + drive.page_size]
            body: dict[str, Any] = {"kind": "drive#fileList", "files": [f.resource() for f in page]}
            if start + drive.page_size < len(matching):
                body["nextPageToken"] = str(start + drive.page_size)
            return Response(body)

        @get("/drive/v3/files/{file_id:str}/export")
        async def export(request: Request[Any, Any, Any]) -> Response[Any]:
            file_id = str(request.path_params["file_id"])
            drive.requests.append(f"export {file_id}")
            if (denied := authorise(request)) is not None:
                return denied
            file = drive.files.get(file_id)
            if file is None:
                return _google_error(404, f"File not found: {file_id}.", "notFound")
            if not file.mime_type.startswith("application/vnd.google-apps."):
                return _google_error(
                    403, "Export only supports Docs Editors files.", "fileNotExportable"
                )
            return Response(
                file.content, media_type=request.query_params.get("mimeType", "text/plain")
            )

        @get("/drive/v3/files/{file_id:str}")
        async def download(request: Request[Any, Any, Any]) -> Response[Any]:
            file_id = str(request.path_params["file_id"])
            drive.requests.append(f"get {file_id}")
            if (denied := authorise(request)) is not None:
                return denied
            file = drive.files.get(file_id)
            if file is None:
                return _google_error(404, f"File not found: {file_id}.", "notFound")
            if request.query_params.get("alt") != "media":
                return Response(file.resource())
            if file.mime_type.startswith("application/vnd.google-apps."):
                return _google_error(
                    403,
                    "Only files with binary content can be downloaded; use Export.",
                    "fileNotDownloadable",
                )
            return Response(file.content, media_type=file.mime_type)

        @post("/token", status_code=200)
        async def token(request: Request[Any, Any, Any]) -> Response[Any]:
            form = await request.form()
            if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
                return Response({"error": "unsupported_grant_type"}, status_code=400)
            import jwt

            try:
                claims = jwt.decode(str(form.get("assertion")), options={"verify_signature": False})
            except jwt.PyJWTError:
                return Response({"error": "invalid_grant"}, status_code=400)
            if "drive" not in str(claims.get("scope")):
                return Response({"error": "invalid_scope"}, status_code=400)
            issued = f"ya29.sa-{uuid.uuid4().hex[:8]}"
            drive.tokens.add(issued)
            return Response({"access_token": issued, "expires_in": 3599, "token_type": "Bearer"})

        return Litestar(
            route_handlers=[list_files, export, download, token], debug=False, logging_config=None
        )

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        async with serve_app(self.app()) as url:
            yield url


def _google_error(status: int, message: str, reason: str) -> Response[Any]:
    return Response(
        {"error": {"code": status, "message": message,
                   "errors": [{"message": message, "domain": "global", "reason": reason}]}},
        status_code=status,
    )  # fmt: skip
