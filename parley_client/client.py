"""The HTTP side: accounts, bots, documents, keys, chat (JSON or streamed), and voice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from parley_client import voice
from parley_client.errors import ParleyApiError, ParleyClientError
from parley_client.sse import SseEvent, SseParser

Json = dict[str, Any]


class ParleyClient:
    """An async client for one Parley server. Authenticate with a user token (`sign_up`,
    `log_in`) or a secret key (`api_key=`); use it as an async context manager."""

    def __init__(self, base_url: str, *, api_key: str | None = None, timeout_s: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = api_key
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout_s)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, headers=self.headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ParleyClientError(f"{method} {path}: {exc}") from None
        if response.status_code >= 400:
            raise _api_error(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # Accounts -------------------------------------------------------------------------------

    async def sign_up(self, email: str, password: str, organisation: str) -> Json:
        """Create an organisation and its owner; the client is then logged in as the owner."""
        body = {"email": email, "password": password, "tenant_name": organisation}
        session: Json = await self._request("POST", "/v1/auth/signup", json=body)
        self._token = session["access_token"]
        return session

    async def log_in(self, email: str, password: str) -> Json:
        session: Json = await self._request(
            "POST", "/v1/auth/login", json={"email": email, "password": password}
        )
        self._token = session["access_token"]
        return session

    async def me(self) -> Json:
        result: Json = await self._request("GET", "/v1/me")
        return result

    # Bots -----------------------------------------------------------------------------------

    async def create_bot(self, name: str, **fields: Any) -> Json:
        bot: Json = await self._request("POST", "/v1/bots", json={"name": name, **fields})
        return bot

    async def list_bots(self) -> list[Json]:
        page: Json = await self._request("GET", "/v1/bots")
        return list(page["items"])

    async def get_bot(self, bot_id: str) -> Json:
        bot: Json = await self._request("GET", f"/v1/bots/{bot_id}")
        return bot

    async def delete_bot(self, bot_id: str) -> None:
        await self._request("DELETE", f"/v1/bots/{bot_id}")

    # Documents ------------------------------------------------------------------------------

    async def upload_document(
        self, filename: str, data: bytes, *, title: str | None = None, bot_id: str | None = None
    ) -> Json:
        fields = {k: v for k, v in (("title", title), ("bot_id", bot_id)) if v}
        files = {"file": (filename, data, "application/octet-stream")}
        document: Json = await self._request("POST", "/v1/documents", files=files, data=fields)
        return document

    async def get_document(self, document_id: str) -> Json:
        document: Json = await self._request("GET", f"/v1/documents/{document_id}")
        return document

    async def wait_for_document(self, document_id: str, *, timeout_s: float = 60) -> Json:
        """Poll until the document is `ready` (or `failed`, raised as an error)."""
        async with asyncio.timeout(timeout_s):
            while True:
                document = await self.get_document(document_id)
                if document["status"] == "ready":
                    return document
                if document["status"] == "failed":
                    raise ParleyClientError(f"document {document_id} failed: {document}")
                await asyncio.sleep(0.2)

    async def list_documents(self) -> list[Json]:
        page: Json = await self._request("GET", "/v1/documents")
        return list(page["items"])

    # Keys -----------------------------------------------------------------------------------

    async def create_key(self, kind: str = "secret", **fields: Any) -> Json:
        """A secret key's full value is in this answer only; keep it."""
        key: Json = await self._request("POST", "/v1/keys", json={"kind": kind, **fields})
        return key

    async def list_keys(self) -> list[Json]:
        page: Json = await self._request("GET", "/v1/keys")
        return list(page["items"])

    async def revoke_key(self, key_id: str) -> None:
        await self._request("DELETE", f"/v1/keys/{key_id}")

    # Chat -----------------------------------------------------------------------------------

    async def chat(self, bot_id: str, message: str, *, conversation_id: str | None = None) -> Json:
        """The bot's whole answer: text, citations, conversation id."""
        body: Json = {"message": message, "stream": False}
        if conversation_id:
            body["conversation_id"] = conversation_id
        answer: Json = await self._request("POST", f"/v1/bots/{bot_id}/chat", json=body)
        return answer

    async def chat_stream(
        self, bot_id: str, message: str, *, conversation_id: str | None = None
    ) -> AsyncIterator[SseEvent]:
        """The answer as it is written: `delta` events, then `done` (or an `error` event)."""
        body: Json = {"message": message, "stream": True}
        if conversation_id:
            body["conversation_id"] = conversation_id
        parser = SseParser()
        path = f"/v1/bots/{bot_id}/chat"
        async with self._http.stream("POST", path, json=body, headers=self.headers) as response:
            if response.status_code >= 400:
                await response.aread()
                raise _api_error(response)
            async for text in response.aiter_text():
                for event in parser.feed(text):
                    yield event

    # Voice ----------------------------------------------------------------------------------

    async def speak(self, text: str, *, audio_format: str = "wav") -> bytes:
        """The server's voice saying `text`, as a file (wav, mp3 or ogg)."""
        try:
            response = await self._http.post(
                "/v1/voice/speak", json={"text": text, "format": audio_format},
                headers=self.headers,
            )  # fmt: skip
        except httpx.HTTPError as exc:
            raise ParleyClientError(f"POST /v1/voice/speak: {exc}") from None
        if response.status_code >= 400:
            raise _api_error(response)
        return response.content

    async def talk(
        self, bot_id: str, wav: bytes | str | Path, *, timeout_s: float = 120
    ) -> voice.VoiceTurn:
        """Ask one spoken question (a WAV file or its bytes) over the voice WebSocket."""
        data = wav if isinstance(wav, bytes) else await asyncio.to_thread(Path(wav).read_bytes)
        ws_url = self.base_url.replace("http", "ws", 1) + "/v1/voice/ws"
        return await voice.talk(ws_url, self.headers, bot_id, data, timeout_s=timeout_s)


def _api_error(response: httpx.Response) -> ParleyApiError:
    try:
        problem = response.json()
    except ValueError:
        problem = {"detail": response.text[:500]}
    if not isinstance(problem, dict):
        problem = {"detail": str(problem)[:500]}
    return ParleyApiError(response.status_code, problem)
