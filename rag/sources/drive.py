"""Google Drive v3 over its REST API: list a folder, export Google Docs as text, download files.

Credentials are either an OAuth access token or a service-account key (exchanged for a token
with a signed JWT). A 401 from Drive means the token was revoked or expired: it surfaces as
:class:`DriveAuthError` so that a sync stops cleanly instead of deleting what it could not see.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from rag.errors import DriveAuthError, FetchFailed
from voice_server.errors import PayloadTooLarge

FOLDER = "application/vnd.google-apps.folder"
# Google-native formats and what they are exported as.
EXPORTS = {
    "application/vnd.google-apps.document": "text/plain",
    "application/vnd.google-apps.presentation": "text/plain",
    "application/vnd.google-apps.spreadsheet": "text/csv",
}
DOWNLOADABLE_PREFIXES = ("text/",)
DOWNLOADABLE = {
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/xhtml+xml",
}
SCOPE = "https://www.googleapis.com/auth/drive.readonly"


@dataclass(frozen=True)
class DriveFile:
    id: str
    name: str
    mime_type: str
    modified_time: str
    md5: str | None
    size: int | None
    web_view_link: str | None

    @property
    def version(self) -> str:
        """Changes whenever the content does (Google Docs have no md5, but a new modifiedTime)."""
        return self.md5 or self.modified_time

    @property
    def supported(self) -> bool:
        return (
            self.mime_type in EXPORTS
            or self.mime_type in DOWNLOADABLE
            or self.mime_type.startswith(DOWNLOADABLE_PREFIXES)
        )


class DriveClient:
    def __init__(
        self,
        *,
        base_url: str,
        credentials: dict[str, Any],
        token_url: str,
        timeout_s: float = 15.0,
        max_bytes: int = 20_000_000,
    ) -> None:
        self._base = base_url.rstrip("/") + "/drive/v3"
        self._credentials = credentials
        self._token_url = token_url
        self._token: str | None = credentials.get("access_token")
        self._max_bytes = max_bytes
        self._http = httpx.AsyncClient(timeout=timeout_s)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> DriveClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def list_folder(self, folder_id: str) -> AsyncIterator[DriveFile]:
        page_token: str | None = None
        while True:
            params = {
                "q": f"'{_quote(folder_id)}' in parents and trashed = false",
                "fields": "nextPageToken, files(id, name, mimeType, modifiedTime, md5Checksum, "
                "size, webViewLink)",
                "pageSize": "100",
                "supportsAllDrives": "true",
                "includeItemsFromAllDrives": "true",
            }
            if page_token:
                params["pageToken"] = page_token
            body = (await self._get("/files", params)).json()
            for item in body.get("files", []):
                size = item.get("size")
                yield DriveFile(
                    id=item["id"],
                    name=item.get("name", ""),
                    mime_type=item.get("mimeType", ""),
                    modified_time=item.get("modifiedTime", ""),
                    md5=item.get("md5Checksum"),
                    size=int(size) if size is not None else None,
                    web_view_link=item.get("webViewLink"),
                )
            page_token = body.get("nextPageToken")
            if not page_token:
                return

    async def content(self, file: DriveFile) -> bytes:
        if file.size is not None and file.size > self._max_bytes:
            raise PayloadTooLarge(f"{file.name} is {file.size} bytes; limit {self._max_bytes}")
        if file.mime_type in EXPORTS:
            response = await self._get(
                f"/files/{file.id}/export", {"mimeType": EXPORTS[file.mime_type]}
            )
        else:
            response = await self._get(
                f"/files/{file.id}", {"alt": "media", "supportsAllDrives": "true"}
            )
        if len(response.content) > self._max_bytes:
            raise PayloadTooLarge(f"{file.name} is larger than {self._max_bytes} bytes")
        return response.content

    async def _get(self, path: str, params: dict[str, str]) -> httpx.Response:
        token = await self._access_token()
        try:
            response = await self._http.get(
                self._base + path, params=params, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as exc:
            raise FetchFailed(f"Google Drive did not answer ({type(exc).__name__})") from None
        if response.status_code == 401:
            raise DriveAuthError(
                "Google Drive refused the credentials (revoked or expired); "
                "connect the folder again"
            )
        if response.status_code == 403:
            raise FetchFailed(f"Google Drive refused access: {_message(response)}")
        if response.status_code == 404:
            raise FetchFailed(f"Google Drive: not found ({_message(response)})")
        if response.status_code != 200:
            raise FetchFailed(f"Google Drive answered {response.status_code}: {_message(response)}")
        return response

    async def _access_token(self) -> str:
        if self._token:
            return self._token
        account = self._credentials.get("service_account")
        if not isinstance(account, dict):
            raise DriveAuthError("no Google Drive access token or service account given")
        import jwt

        now = int(time.time())
        assertion = jwt.encode(
            {
                "iss": account.get("client_email"),
                "scope": SCOPE,
                "aud": account.get("token_uri") or self._token_url,
                "iat": now,
                "exp": now + 3600,
            },
            account.get("private_key", ""),
            algorithm="RS256",
        )
        try:
            response = await self._http.post(
                account.get("token_uri") or self._token_url,
                data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "assertion": assertion,
                },
            )
        except httpx.HTTPError as exc:
            raise FetchFailed(f"the Google token endpoint did not answer ({exc!r})") from None
        if response.status_code != 200:
            raise DriveAuthError(f"Google refused the service account: {_message(response)}")
        self._token = str(response.json()["access_token"])
        return self._token


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except Exception:  # not Google's error JSON
        return response.text[:200]
