"""Voice without credentials, with a publishable key, and with spent, stale or foreign session
tokens: every door refuses with the documented code (docs/voice-protocol.md)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import asyncpg
from websockets.exceptions import ConnectionClosed

from tests.abuse.conftest import AbuseReport
from tests.abuse.voice_doors import assert_limited, door_server
from tests.integration.voice.harness import eventually, voice_client
from tests.support.tenants import create_tenant


async def _session_rows(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM voice_sessions"))
    finally:
        await conn.close()


async def _refused(
    url: str, abuse_report: AbuseReport, bot_id: object, **headers: str
) -> tuple[int | None, str]:
    """Connect, try to start, and return the close code and the error event's code."""
    async with voice_client(url, **headers) as client:
        start = {"type": "session.start", "bot_id": str(bot_id), "sample_rate": 16000}
        # The server may have closed already: that is the point.
        with contextlib.suppress(ConnectionClosed):
            await client.ws.send(json.dumps(start))
        await client.closed.wait()
        abuse_report.tried()
        errors = client.events("error")
        return client.ws.close_code, errors[0]["code"] if errors else ""


async def test_no_credentials_is_closed_4401_and_starts_nothing(
    tmp_path: Path, database_url: str, abuse_report: AbuseReport
) -> None:
    tenant = await create_tenant(database_url)
    async with door_server(tmp_path, database_url) as server:
        for _ in range(5):
            code, error = await _refused(
                server.ws_url, abuse_report, tenant.bot_id, Origin=tenant.origin
            )
            assert (code, error) == (4401, "unauthenticated")
        for query in ("?key=", "?token="):
            code, error = await _refused(server.ws_url + query, abuse_report, tenant.bot_id)
            assert (code, error) == (4401, "unauthenticated")
    assert await _session_rows(database_url) == 0


async def test_a_publishable_key_straight_on_the_socket_is_refused(
    tmp_path: Path, database_url: str, abuse_report: AbuseReport
) -> None:
    tenant = await create_tenant(database_url)
    async with door_server(tmp_path, database_url) as server:
        by_query = await _refused(
            f"{server.ws_url}?key={tenant.publishable_key}",
            abuse_report,
            tenant.bot_id,
            Origin=tenant.origin,
        )
        by_header = await _refused(
            server.ws_url, abuse_report, tenant.bot_id, **tenant.widget_headers
        )
        by_bearer = await _refused(
            server.ws_url,
            abuse_report,
            tenant.bot_id,
            Authorization=f"Bearer {tenant.publishable_key}",
            Origin=tenant.origin,
        )
    assert by_query == by_header == by_bearer == (4401, "unauthenticated")
    assert await _session_rows(database_url) == 0


async def test_a_token_opens_one_session_and_only_one(
    tmp_path: Path, database_url: str, abuse_report: AbuseReport
) -> None:
    tenant = await create_tenant(database_url)
    async with door_server(tmp_path, database_url) as server:
        issued = await server.token(tenant.bot_id, tenant.widget_headers)
        assert issued.status_code == 201, issued.text
        body = issued.json()
        assert body["token"].startswith("pvt_")
        assert body["expires_in"] == 60
        assert body["ws_path"] == f"/v1/voice/ws?token={body['token']}"
        url = f"{server.ws_url}?token={body['token']}"
        async with voice_client(url, Origin=tenant.origin) as client:
            started = await client.start(tenant.bot_id)
            assert started["type"] == "session.started"
        again = await _refused(url, abuse_report, tenant.bot_id, Origin=tenant.origin)
        assert again == (4401, "unauthenticated")
    assert await _session_rows(database_url) == 1


async def test_an_expired_token_is_refused(
    tmp_path: Path, database_url: str, abuse_report: AbuseReport
) -> None:
    tenant = await create_tenant(database_url)
    async with door_server(tmp_path, database_url) as server:
        fresh = (await server.token(tenant.bot_id, tenant.widget_headers)).json()["token"]
        stale = (await server.token(tenant.bot_id, tenant.widget_headers)).json()["token"]
        server.clock.advance(59)
        async with voice_client(f"{server.ws_url}?token={fresh}", Origin=tenant.origin) as c:
            assert (await c.start(tenant.bot_id))["type"] == "session.started"
        server.clock.advance(2)  # 61 s after issue
        code = await _refused(f"{server.ws_url}?token={stale}", abuse_report, tenant.bot_id,
                              Origin=tenant.origin)  # fmt: skip
    assert code == (4401, "unauthenticated")


async def test_a_token_for_bot_a_does_not_start_bot_b(
    tmp_path: Path, database_url: str, abuse_report: AbuseReport
) -> None:
    tenant = await create_tenant(database_url)
    other = await create_tenant(database_url, name="Other")
    async with door_server(tmp_path, database_url) as server:
        token = (await server.token(tenant.bot_id, tenant.widget_headers)).json()["token"]
        async with voice_client(f"{server.ws_url}?token={token}", Origin=tenant.origin) as c:
            start = {"type": "session.start", "bot_id": str(other.bot_id), "sample_rate": 16000}
            await c.ws.send(json.dumps(start))
            assert (await c.wait_for("error"))["code"] == "bot_not_found"
            abuse_report.tried()
        # A key bound to bot A cannot even get a token for bot B.
        refused = await server.token(other.bot_id, tenant.widget_headers)
        abuse_report.check(refused.status_code, "POST /v1/bots/{other}/sessions")
        assert refused.status_code == 404
    assert await _session_rows(database_url) == 0


async def test_origins_are_checked_at_issue_and_at_use(
    tmp_path: Path, database_url: str, abuse_report: AbuseReport
) -> None:
    tenant = await create_tenant(database_url)
    async with door_server(tmp_path, database_url) as server:
        for origin in ("https://evil.example", "https://shop.example.evil.example", ""):
            headers = {"X-Parley-Key": tenant.publishable_key, "Origin": origin}
            refused = await server.token(tenant.bot_id, headers)
            abuse_report.check(refused.status_code, "POST /v1/bots/{id}/sessions bad origin")
            assert refused.status_code == 403
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert refused.json()["status"] == 403
        token = (await server.token(tenant.bot_id, tenant.widget_headers)).json()["token"]
        stolen = await _refused(f"{server.ws_url}?token={token}", abuse_report, tenant.bot_id,
                                Origin="https://evil.example")  # fmt: skip
        assert stolen == (4403, "forbidden")
    assert await _session_rows(database_url) == 0


async def test_a_flood_of_session_starts_is_rate_limited(
    tmp_path: Path, database_url: str, abuse_report: AbuseReport
) -> None:
    tenant = await create_tenant(database_url)
    async with door_server(tmp_path, database_url, voice_starts_ip_per_minute=5) as server:
        statuses = []
        for _ in range(16):
            response = await server.token(tenant.bot_id, tenant.widget_headers)
            abuse_report.check(response.status_code, "POST /v1/bots/{id}/sessions flood")
            statuses.append(response.status_code)
        last = response
    assert_limited(statuses, limit=5, passed=201)
    assert last.headers["content-type"].startswith("application/problem+json")
    assert int(last.headers["retry-after"]) >= 1
    assert last.json()["bucket"] == "voice_ip"


async def test_a_visitor_may_hold_only_so_many_sessions_at_once(
    tmp_path: Path, database_url: str, abuse_report: AbuseReport
) -> None:
    tenant = await create_tenant(database_url)
    async with door_server(tmp_path, database_url, voice_sessions_per_visitor=1) as server:
        first = (await server.token(tenant.bot_id, tenant.widget_headers)).json()["token"]
        second = (await server.token(tenant.bot_id, tenant.widget_headers)).json()["token"]
        async with voice_client(f"{server.ws_url}?token={first}", Origin=tenant.origin) as c:
            await c.start(tenant.bot_id)
            busy = await server.token(tenant.bot_id, tenant.widget_headers)
            assert busy.status_code == 429
            code = await _refused(f"{server.ws_url}?token={second}", abuse_report,
                                  tenant.bot_id, Origin=tenant.origin)  # fmt: skip
            assert code == (1013, "rate_limited")

        # The slot is freed when the call ends.
        async def freed() -> bool:
            return server.services.visitor_sessions.open_count(tenant.bot_id, "127.0.0.1") == 0

        await eventually(freed)
        third = await server.token(tenant.bot_id, tenant.widget_headers)
        assert third.status_code == 201


async def test_anonymous_sessions_need_the_development_setting_and_loopback(
    tmp_path: Path, database_url: str, abuse_report: AbuseReport
) -> None:
    tenant = await create_tenant(database_url)
    async with door_server(tmp_path, database_url, voice_allow_anonymous=True) as server:
        async with voice_client(server.ws_url) as client:
            assert (await client.start(tenant.bot_id))["type"] == "session.started"
        # Through a proxy every visitor would look local: refused.
        relayed = await _refused(server.ws_url, abuse_report, tenant.bot_id,
                                 **{"X-Forwarded-For": "127.0.0.1"})  # fmt: skip
        assert relayed == (4401, "unauthenticated")
