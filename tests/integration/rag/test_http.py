"""The knowledge and chat HTTP API end to end: real server, real database, real auth."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import make_settings
from tests.fakes.groq_chat import FakeGroq
from tests.support.server import serve_app
from tests.support.tenants import TenantKeys, create_tenant
from tests.unit.rag.documents import (
    make_docx,
    make_encrypted_pdf,
    make_html,
    make_markdown,
    make_pdf,
)
from voice_server.app import create_app


@pytest.fixture
async def groq() -> AsyncIterator[tuple[FakeGroq, str]]:
    fake = FakeGroq()
    async with fake.serve() as url:
        yield fake, url


@pytest.fixture
async def api(
    tmp_path: Path, database_url: str, groq: tuple[FakeGroq, str]
) -> AsyncIterator[httpx.AsyncClient]:
    fake, url = groq
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        llm_provider="groq",
        llm_api_key=fake.api_key,
        llm_base_url=url,
        rag_max_file_bytes=2_000_000,
        rag_chunk_tokens=200,
    )
    async with (
        serve_app(create_app(settings)) as base,
        httpx.AsyncClient(base_url=base, timeout=30) as client,
    ):
        yield client


@pytest.fixture
async def owner(database_url: str) -> TenantKeys:
    return await create_tenant(database_url, name="Acme")


async def upload(
    client: httpx.AsyncClient, keys: TenantKeys, name: str, data: bytes, **fields: str
) -> httpx.Response:
    return await client.post(
        "/v1/documents",
        files={"file": (name, data, "application/octet-stream")},
        data=fields,
        headers=keys.secret_headers,
    )


async def wait_ready(client: httpx.AsyncClient, keys: TenantKeys, doc_id: str) -> dict[str, Any]:
    for _ in range(300):
        body = (await client.get(f"/v1/documents/{doc_id}", headers=keys.secret_headers)).json()
        if body["status"] in ("ready", "failed"):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"document {doc_id} stayed {body['status']}")


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line)
        events.append((lines["event"], json.loads(lines["data"])))
    return events


KB = {
    "manual.pdf": make_pdf(
        [["Frobnicator 3000 user manual."] + [f"Step {i}: tighten screw {i}." for i in range(10)],
         ["Warranty: the Frobnicator is covered for three years from purchase."]],
        title="Frobnicator manual",
    ),
    "handbook.docx": make_docx(
        "Staff handbook", [("Holidays", ["Staff get 28 days of annual leave."])]
    ),
    "faq.html": make_html("Shop FAQ", [("Delivery", ["Orders arrive within five days."])]),
    "menu.md": make_markdown("Cafe menu", [("Drinks", ["Oat flat white costs 3 euros."])]),
}  # fmt: skip


async def test_generated_documents_answer_a_question_over_sse_with_the_right_citation(
    api: httpx.AsyncClient, owner: TenantKeys
) -> None:
    ids = {}
    for name, data in KB.items():
        response = await upload(api, owner, name, data)
        assert response.status_code == 201, response.text
        ids[name] = response.json()["id"]
    for name, doc_id in ids.items():
        assert (await wait_ready(api, owner, doc_id))["status"] == "ready", name

    response = await api.post(
        f"/v1/bots/{owner.bot_id}/chat",
        json={"message": "How long is the Frobnicator warranty?"},
        headers={**owner.widget_headers, "Accept": "text/event-stream"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    kinds = [k for k, _ in events]
    assert kinds[0] == "conversation"
    assert "tool_call" in kinds
    assert "delta" in kinds
    assert kinds[-1] == "done"
    done = events[-1][1]
    assert "three years" in done["text"]
    first = done["citations"][0]
    assert first["document_id"] == ids["manual.pdf"]
    assert first["title"] == "Frobnicator manual"
    assert first["location"] == "page 2"
    assert done["usage"]["tokens_in"] > 0
    assert done["timings"]["total_ms"] >= done["timings"]["first_token_ms"]

    # The turn was stored and the owner can read it back.
    conversation = done["conversation_id"]
    transcript = (
        await api.get(
            f"/v1/bots/{owner.bot_id}/conversations/{conversation}", headers=owner.user_headers
        )
    ).json()
    assert [m["role"] for m in transcript["messages"]] == ["user", "assistant"]
    assert transcript["messages"][1]["citations"][0]["document_id"] == ids["manual.pdf"]
    listing = (
        await api.get(f"/v1/bots/{owner.bot_id}/conversations", headers=owner.user_headers)
    ).json()
    assert listing["items"][0]["id"] == conversation
    assert listing["items"][0]["message_count"] == 2
    metrics = (await api.get("/metrics")).text
    assert 'parley_rag_documents_processed_total{outcome="ready"} 4.0' in metrics
    assert "parley_chat_first_token_seconds_count 1.0" in metrics


async def test_json_chat_feeds_history_back(
    api: httpx.AsyncClient, owner: TenantKeys, groq: tuple[FakeGroq, str]
) -> None:
    fake, _ = groq
    first = await api.post(
        f"/v1/bots/{owner.bot_id}/chat",
        json={"message": "My name is Ada.", "stream": False},
        headers=owner.secret_headers,
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["text"]
    assert body["tool_calls"][0]["name"] == "search_knowledge"
    second = await api.post(
        f"/v1/bots/{owner.bot_id}/chat",
        json={"message": "What is my name?", "stream": False,
              "conversation_id": body["conversation_id"]},
        headers=owner.secret_headers,
    )  # fmt: skip
    assert second.status_code == 200
    sent = [m["content"] for m in fake.requests[-2]["messages"] if m["role"] == "user"]
    assert sent == ["My name is Ada.", "What is my name?"]


async def test_another_tenant_cannot_see_or_use_anything(
    api: httpx.AsyncClient, owner: TenantKeys, database_url: str
) -> None:
    response = await upload(
        api, owner, "secret.md", make_markdown("Vault", [("Code", ["The vault code is 7421."])])
    )
    doc_id = response.json()["id"]
    await wait_ready(api, owner, doc_id)
    other = await create_tenant(database_url, name="Globex")

    # Tenant B asks its own bot the same question: tenant A's chunks are never retrieved.
    answer = await api.post(
        f"/v1/bots/{other.bot_id}/chat",
        json={"message": "What is the vault code?", "stream": False},
        headers=other.secret_headers,
    )
    assert answer.status_code == 200
    assert answer.json()["citations"] == []
    assert "7421" not in answer.json()["text"]
    # Foreign ids look absent.
    assert (
        await api.get(f"/v1/documents/{doc_id}", headers=other.secret_headers)
    ).status_code == 404
    assert (
        await api.delete(f"/v1/documents/{doc_id}", headers=other.secret_headers)
    ).status_code == 404
    foreign_chat = await api.post(
        f"/v1/bots/{owner.bot_id}/chat", json={"message": "hi"}, headers=other.secret_headers
    )
    assert foreign_chat.status_code == 404
    # A widget key is bound to its bot.
    bound = await api.post(
        f"/v1/bots/{other.bot_id}/chat", json={"message": "hi"}, headers=owner.widget_headers
    )
    assert bound.status_code == 404
    assert (await api.get("/v1/documents", headers=other.secret_headers)).json()["items"] == []


async def test_widget_keys_cannot_manage_documents(
    api: httpx.AsyncClient, owner: TenantKeys
) -> None:
    response = await api.get("/v1/documents", headers=owner.widget_headers)
    assert response.status_code == 403
    assert (await api.post("/v1/documents", headers={})).status_code == 401


@pytest.mark.parametrize(
    ("name", "data", "status", "slug"),
    [
        ("locked.pdf", make_encrypted_pdf(), 400, "document-encrypted"),
        ("empty.txt", b"", 400, "document-unreadable"),
        ("photo.pdf", b"\x89PNG\r\n\x1a\n" + bytes(64), 415, "document-type-unsupported"),
    ],
)
async def test_bad_files_are_refused_with_problem_json(
    api: httpx.AsyncClient, owner: TenantKeys, name: str, data: bytes, status: int, slug: str
) -> None:
    response = await upload(api, owner, name, data)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith(slug)


async def test_a_200_mb_upload_is_refused_before_it_is_buffered(
    api: httpx.AsyncClient, owner: TenantKeys
) -> None:
    async def body() -> AsyncIterator[bytes]:
        boundary = b"--xyz\r\n"
        yield boundary + b'Content-Disposition: form-data; name="file"; filename="big.txt"\r\n\r\n'
        piece = b"a" * (1024 * 1024)
        for _ in range(200):
            yield piece
        yield b"\r\n--xyz--\r\n"

    headers = {**owner.secret_headers, "Content-Type": "multipart/form-data; boundary=xyz"}
    # Declared size: refused before a byte of the body is read (raw socket: no body sent).
    host, port = api.base_url.host, api.base_url.port
    reader, writer = await asyncio.open_connection(host, port)
    head = ["POST /v1/documents HTTP/1.1", f"Host: {host}:{port}",
            f"Content-Length: {200 * 2**20}", "Content-Type: multipart/form-data; boundary=xyz",
            f"Authorization: Bearer {owner.secret_key}", "", ""]  # fmt: skip
    writer.write("\r\n".join(head).encode())
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    assert b" 413 " in status_line
    # Chunked, undeclared: refused as soon as it passes the 2 MB limit of this server.
    tracemalloc.start()
    try:
        response = await api.post("/v1/documents", content=body(), headers=headers)
        assert response.status_code == 413
        assert "larger than 2000000 bytes" in response.json()["detail"]
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        pass  # the server answered 413 and closed while we were still sending
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    # Server and client share this process: its peak allocation shows nothing was buffered.
    assert peak < 30 * 2**20


async def test_a_url_to_localhost_is_refused(api: httpx.AsyncClient, owner: TenantKeys) -> None:
    response = await api.post(
        "/v1/documents/url",
        json={"url": "http://127.0.0.1:8000/admin"},
        headers=owner.secret_headers,
    )
    assert response.status_code == 400
    assert "loopback" in response.json()["detail"]


async def test_delete_removes_the_document_from_answers(
    api: httpx.AsyncClient, owner: TenantKeys
) -> None:
    doc = (await upload(api, owner, "menu.md", KB["menu.md"])).json()
    await wait_ready(api, owner, doc["id"])
    again = await upload(api, owner, "menu-copy.md", KB["menu.md"])
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert (
        await api.delete(f"/v1/documents/{doc['id']}", headers=owner.secret_headers)
    ).status_code == 204
    answer = await api.post(
        f"/v1/bots/{owner.bot_id}/chat",
        json={"message": "oat flat white price", "stream": False},
        headers=owner.secret_headers,
    )
    assert answer.json()["citations"] == []


async def test_websocket_chat_streams_and_can_cancel(
    api: httpx.AsyncClient, owner: TenantKeys, groq: tuple[FakeGroq, str]
) -> None:
    import websockets

    fake, _ = groq
    doc = (await upload(api, owner, "faq.html", KB["faq.html"])).json()
    await wait_ready(api, owner, doc["id"])
    url = (
        str(api.base_url).replace("http", "ws")
        + f"/v1/bots/{owner.bot_id}/chat/ws?key={owner.publishable_key}"
    )
    async with websockets.connect(url, additional_headers={"Origin": owner.origin}) as ws:
        ready = json.loads(await ws.recv())
        assert ready["type"] == "ready"
        await ws.send(json.dumps({"type": "message", "text": "When do orders arrive?"}))
        events = []
        while True:
            event = json.loads(await ws.recv())
            events.append(event)
            if event["type"] in ("done", "error"):
                break
        assert events[-1]["type"] == "done"
        assert "five days" in events[-1]["text"]
        assert events[-1]["citations"][0]["document_id"] == doc["id"]
        await ws.send(json.dumps({"type": "hello"}))
        assert json.loads(await ws.recv())["type"] == "error"


async def test_a_client_leaving_mid_answer_stops_the_model_and_keeps_the_partial_reply(
    api: httpx.AsyncClient, owner: TenantKeys, groq: tuple[FakeGroq, str]
) -> None:
    from tests.fakes.groq_chat import LatencyProfile, Text

    fake, _ = groq
    fake.latency = LatencyProfile(tokens_per_s=20)
    fake.script = [Text(" ".join(f"word{i}" for i in range(400)))]
    conversation = None
    async with api.stream(
        "POST", f"/v1/bots/{owner.bot_id}/chat", json={"message": "Tell me everything"},
        headers=owner.secret_headers,
    ) as response:  # fmt: skip
        async for line in response.aiter_lines():
            if line.startswith("data: ") and "conversation_id" in line:
                conversation = json.loads(line[6:])["conversation_id"]
            if line == "event: delta":
                break  # the visitor closes the tab
    assert conversation is not None
    for _ in range(200):
        transcript = (
            await api.get(
                f"/v1/bots/{owner.bot_id}/conversations/{conversation}", headers=owner.user_headers
            )
        ).json()
        if len(transcript["messages"]) == 2:
            break
        await asyncio.sleep(0.05)
    user, assistant = transcript["messages"]
    assert user["content"] == "Tell me everything"
    assert assistant["interrupted"] is True
    assert assistant["content"].startswith("word0")
    for _ in range(100):
        if fake.cancelled:
            break
        await asyncio.sleep(0.05)
    assert fake.cancelled == 1  # the model's stream was abandoned, not read to the end
