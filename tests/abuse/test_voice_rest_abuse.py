"""The REST voice endpoints as an attacker tries them: a widget's publishable key, a key without
the scope, an exhausted plan, oversized input; and as an owner pays for them: every second billed.

Before the fix a ``ppk_`` key and its Origin synthesized 5,000 characters three times and billed
nothing, ``/transcribe`` worked the same, and ``/chat`` checked neither scope nor quota.
"""

from __future__ import annotations

import asyncio
import io
import math
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from billing.ledger import record_usage
from dashboard_api.key_management import create_secret_key
from tests.abuse.conftest import AbuseReport
from tests.conftest import make_settings
from tests.integration.voice.test_offline_conversation import speech_wav
from tests.support.server import serve_app
from tests.support.tenants import TenantKeys, create_tenant
from voice_server.app import create_app
from voice_server.voice.codecs import decode

PLANS = """
[plans.small]
name = "Small"
bots = 5
documents = 5
storage_bytes = 1_000_000
messages_per_month = 100
voice_minutes_per_month = 2
concurrent_voice_sessions = 1
"""
MAX_UPLOAD_BYTES = 400_000
ROUTES = ("/v1/voice/speak", "/v1/voice/transcribe", "/v1/voice/chat")


@dataclass
class Served:
    http: httpx.AsyncClient
    tenant: TenantKeys
    database_url: str
    question: bytes  # a spoken question, WAV

    async def call(self, route: str, headers: dict[str, str], **extra: Any) -> httpx.Response:
        if route.endswith("/speak"):
            return await self.http.post(route, json={"text": "Hello and welcome."}, headers=headers)
        params = {"bot_id": str(self.tenant.bot_id)} if route.endswith("/chat") else {}
        return await self.http.post(
            route,
            content=extra.get("content", self.question),
            params=params,
            headers={**headers, "Content-Type": "audio/wav"},
        )

    async def voice_seconds(self) -> list[tuple[str, int]]:
        conn = await asyncpg.connect(self.database_url)
        try:
            rows = await conn.fetch(
                "SELECT idempotency_key, quantity FROM usage_events"
                " WHERE kind = 'voice_seconds' ORDER BY occurred_at, id"
            )
        finally:
            await conn.close()
        return [(r["idempotency_key"], int(r["quantity"])) for r in rows]


@pytest.fixture
async def served(tmp_path: Path, database_url: str) -> AsyncIterator[Served]:
    plans = tmp_path / "plans.toml"
    plans.write_text(PLANS)
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        billing_plans_file=plans,
        billing_default_plan="small",
        voice_max_upload_bytes=MAX_UPLOAD_BYTES,
    )
    tenant = await create_tenant(database_url)
    question = await speech_wav("what are your opening hours", 16_000)
    async with (
        serve_app(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, timeout=60) as http,
    ):
        yield Served(http, tenant, database_url, question)


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


@pytest.mark.parametrize("route", ROUTES)
async def test_a_publishable_key_is_refused_before_any_paid_work(
    served: Served, route: str, abuse_report: AbuseReport
) -> None:
    response = await served.call(route, served.tenant.widget_headers)
    abuse_report.check(response.status_code, f"POST {route} with a ppk_ key")
    assert_problem(response, 403)
    assert "publishable" in response.json()["detail"]
    assert await served.voice_seconds() == []


async def test_a_key_without_the_chat_scope_is_refused(
    served: Served, abuse_report: AbuseReport
) -> None:
    conn = await asyncpg.connect(served.database_url)
    try:
        key = await create_secret_key(conn, served.tenant.tenant_id, scopes=["documents:read"])
    finally:
        await conn.close()
    for route in ROUTES:
        response = await served.call(route, {"Authorization": f"Bearer {key.key}"})
        abuse_report.check(response.status_code, f"POST {route} without the chat scope")
        assert assert_problem(response, 403)["required_scope"] == "chat"


async def test_a_secret_key_pays_for_every_second(
    served: Served, abuse_report: AbuseReport
) -> None:
    headers = served.tenant.secret_headers
    with wave.open(io.BytesIO(served.question)) as wav:
        question_s = wav.getnframes() / wav.getframerate()

    spoken = await served.call("/v1/voice/speak", headers)
    abuse_report.check(spoken.status_code, "POST /v1/voice/speak")
    assert spoken.status_code == 200, spoken.text
    spoken_s = (await asyncio.to_thread(decode, spoken.content, max_seconds=60)).seconds
    heard = await served.call("/v1/voice/transcribe", headers)
    abuse_report.check(heard.status_code, "POST /v1/voice/transcribe")
    assert heard.status_code == 200, heard.text
    chat = await served.call("/v1/voice/chat", headers)
    abuse_report.check(chat.status_code, "POST /v1/voice/chat")
    assert chat.status_code == 200, chat.text

    billed = await served.voice_seconds()
    assert [key.split(":")[:2] for key, _ in billed[:2]] == [
        ["voice-rest", "speak"],
        ["voice-rest", "transcribe"],
    ]
    assert billed[0][1] == math.ceil(spoken_s)
    assert billed[1][1] == math.ceil(question_s)
    # The spoken turn: the question plus the reply audio, once, like a WebSocket turn.
    key, seconds = billed[2]
    assert key.startswith("voice:")
    assert key.endswith(":0")
    assert seconds > math.ceil(question_s)
    conn = await asyncpg.connect(served.database_url)
    try:
        session = await conn.fetchrow("SELECT transport, ended_at, end_reason FROM voice_sessions")
        turns = await conn.fetchval("SELECT count(*) FROM turns")
    finally:
        await conn.close()
    assert (session["transport"], session["end_reason"], turns) == ("rest", "completed", 1)
    assert session["ended_at"] is not None


@pytest.mark.parametrize("route", ROUTES)
async def test_an_exhausted_plan_is_a_402_before_any_paid_work(
    served: Served, route: str, abuse_report: AbuseReport
) -> None:
    conn = await asyncpg.connect(served.database_url)
    try:  # the plan's two minutes, used by earlier calls
        await record_usage(conn, served.tenant.tenant_id, "voice_seconds", 120, "earlier")
    finally:
        await conn.close()
    response = await served.call(route, served.tenant.secret_headers)
    abuse_report.check(response.status_code, f"POST {route} past the plan")
    problem = assert_problem(response, 402)
    assert problem["limit_name"] == "voice_minutes_per_month"
    assert await served.voice_seconds() == [("earlier", 120)]  # nothing more billed


async def test_oversized_input_is_a_413(served: Served, abuse_report: AbuseReport) -> None:
    headers = served.tenant.secret_headers
    speak = await served.http.post(
        "/v1/voice/speak", json={"text": "word " * 1001}, headers=headers
    )
    abuse_report.check(speak.status_code, "POST /v1/voice/speak 5,005 characters")
    assert_problem(speak, 413)
    big = b"RIFF" + b"\x00" * (MAX_UPLOAD_BYTES + 1)
    for route in ("/v1/voice/transcribe", "/v1/voice/chat"):
        response = await served.call(route, headers, content=big)
        abuse_report.check(response.status_code, f"POST {route} over the upload limit")
        assert_problem(response, 413)
    assert await served.voice_seconds() == []
