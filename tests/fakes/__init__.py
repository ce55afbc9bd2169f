"""Protocol fakes of the cloud vendors: small ASGI apps under a real uvicorn on 127.0.0.1:0.

Each fake speaks its vendor's wire protocol, errors included, so that adapters are tested with
the vendor's official SDK pointed at it (base URL). Every fake records the requests it received
and can be told to fail (``Failure``) for all requests or for the next few, and takes a
:class:`tests.fakes.latency.LatencyProfile` so that benchmarks reuse it with realistic delays.

    async with groq_audio_server(text="hello") as groq:
        groq.fail_next(Failure.RATE_LIMITED)
        ... AsyncGroq(base_url=groq.base_url, api_key=groq.api_key) ...
        assert groq.requests[-1].form["model"] == "whisper-large-v3-turbo"

For a whole server (pipeline tests, benchmarks), :func:`speech_vendor_fakes` starts both speech
fakes and gives the settings that point Parley at them:

    async with speech_vendor_fakes("cloud", text="what are your opening hours") as vendors:
        settings = make_settings(tmp_path, **vendors.settings_overrides())
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import enum
import json
import socket
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import uvicorn

from tests.fakes.latency import ZERO, LatencyProfile

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Failure(enum.Enum):
    """How a fake misbehaves for a request."""

    UNAUTHORIZED = "unauthorized"  # 401 with the vendor's error JSON
    RATE_LIMITED = "rate_limited"  # 429 with retry-after
    SERVER_ERROR = "server_error"  # 500
    HANG = "hang"  # no answer until the client gives up (a timeout on its side)
    STREAM_CUT = "stream_cut"  # the response body stops halfway and the connection drops


@dataclass(frozen=True)
class FormFile:
    filename: str
    content_type: str
    data: bytes


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, FormFile] = field(default_factory=dict)
    failure: Failure | None = None

    def json(self) -> Any:
        return json.loads(self.body)


class StreamCut(Exception):
    """Raised inside a handler to drop the connection in the middle of a response body."""


class FakeVendor:
    """State shared by a fake's handlers and the test: requests seen, failures to inject."""

    def __init__(self, *, api_key: str, latency: LatencyProfile = ZERO, retry_after_s: int = 2):
        self.api_key = api_key
        self.latency = latency
        self.retry_after_s = retry_after_s
        self.base_url = ""
        self.requests: list[RecordedRequest] = []
        self.failure: Failure | None = None  # for every request
        self._next_failures: deque[Failure | None] = deque()
        self._closing = asyncio.Event()

    def fail_next(self, *failures: Failure | None) -> None:
        """Fail the next requests in this order (None: answer normally), then as before."""
        self._next_failures.extend(failures)

    def take_failure(self) -> Failure | None:
        if self._next_failures:
            return self._next_failures.popleft()
        return self.failure

    async def hang(self, receive: Receive) -> None:
        """Answer nothing until the client disconnects or the fake stops."""
        closing = asyncio.ensure_future(self._closing.wait())
        disconnect = asyncio.ensure_future(_wait_disconnect(receive))
        try:
            await asyncio.wait({closing, disconnect}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (closing, disconnect):
                task.cancel()
            await asyncio.gather(closing, disconnect, return_exceptions=True)


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def read_request(scope: Scope, receive: Receive) -> RecordedRequest:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    headers = {
        key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]
    }
    query = {
        key: values[-1]
        for key, values in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()
    }
    request = RecordedRequest(
        method=scope["method"], path=scope["path"], query=query, headers=headers, body=body
    )
    if headers.get("content-type", "").startswith("multipart/form-data"):
        request.form, request.files = parse_multipart(headers["content-type"], body)
    return request


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, FormFile]]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    form: dict[str, str] = {}
    files: dict[str, FormFile] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if not isinstance(name, str):
            continue
        if filename is not None:
            files[name] = FormFile(filename, part.get_content_type(), payload)
        else:
            form[name] = payload.decode("utf-8")
    return form, files


async def send_json(
    send: Send, status: int, payload: Any, headers: Mapping[str, str] | None = None
) -> None:
    body = json.dumps(payload).encode()
    await send_bytes(send, status, body, "application/json", headers)


async def send_bytes(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    headers: Mapping[str, str] | None = None,
) -> None:
    all_headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        *((key.encode(), value.encode()) for key, value in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


@contextlib.contextmanager
def _no_signals() -> Iterator[None]:
    yield


@asynccontextmanager
async def serve(
    app: Callable[[Scope, Receive, Send], Awaitable[None]], vendor: FakeVendor
) -> AsyncIterator[None]:
    """Run ``app`` on a free port of 127.0.0.1 in this loop; set ``vendor.base_url``."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    server.capture_signals = _no_signals  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("fake server stopped during start-up")
            await asyncio.sleep(0.005)
        vendor.base_url = f"http://127.0.0.1:{port}"
        yield
    finally:
        vendor._closing.set()  # release hanging handlers so that shutdown does not wait
        server.should_exit = True
        await task
        sock.close()


@dataclass
class SpeechVendors:
    groq: Any  # tests.fakes.groq_audio.FakeGroq
    deepgram: Any  # tests.fakes.deepgram.FakeDeepgram

    def settings_overrides(self) -> dict[str, object]:
        """Settings fields that make Parley use these fakes for STT and TTS."""
        return {
            "stt_provider": "groq",
            "groq_api_key": self.groq.api_key,
            "groq_base_url": self.groq.base_url,
            "tts_provider": "deepgram",
            "deepgram_api_key": self.deepgram.api_key,
            "deepgram_base_url": self.deepgram.base_url,
        }


@asynccontextmanager
async def speech_vendor_fakes(
    latency: LatencyProfile | str = "zero", **groq_options: Any
) -> AsyncIterator[SpeechVendors]:
    """The Groq speech-to-text and Deepgram text-to-speech fakes, with one latency profile
    (by name: ``zero`` or ``cloud``). ``groq_options`` go to ``groq_audio_server`` (``text``)."""
    from tests.fakes.deepgram import deepgram_server
    from tests.fakes.groq_audio import groq_audio_server
    from tests.fakes.latency import latency_profile

    profile = latency_profile(latency) if isinstance(latency, str) else latency
    async with (
        groq_audio_server(latency=profile, **groq_options) as groq,
        deepgram_server(latency=profile) as deepgram,
    ):
        yield SpeechVendors(groq=groq, deepgram=deepgram)
