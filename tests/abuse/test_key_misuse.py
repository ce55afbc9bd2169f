"""A publishable key (public by design: it sits in a web page) on every route of the app.

It may get a session token, chat with its own bot, leave feedback and read the bot's public
config; everything else answers 401/403/404/405 with a problem document and never a 5xx. One
visitor cannot spend the tenant's month (messages and voice seconds per visitor per hour), and
when the owner's plan is used up a visitor hears "unavailable", never the plan or its usage.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from tests.abuse.conftest import AbuseReport
from tests.abuse.voice_doors import door_server
from tests.integration.voice.harness import eventually, voice_client
from tests.support.tenants import TenantKeys, create_tenant

# What a widget needs, and nothing more (method, path template).
WIDGET_ROUTES = {
    ("POST", "/v1/bots/{bot_id}/sessions"),
    ("POST", "/v1/bots/{bot_id}/chat"),
    ("GET", "/v1/bots/{bot_id}/public"),
    ("POST", "/v1/feedback"),
    ("GET", "/v1/me"),  # who the credential is: its own bot and scopes
    ("GET", "/v1/voice/health"),  # public
}
# Voice REST routes: their key scopes are the `voicesafety` change (issue 11, item 2).
NOT_JUDGED_HERE = re.compile(r"^/v1/voice/(speak|transcribe|chat)$")
SKIPPED = re.compile(r"^/(schema|swagger)|^/v1/billing/webhook|^/(healthz|readyz|metrics)")


def _routes(app_routes: list[tuple[str, str]], tenant: TenantKeys) -> list[tuple[str, str, str]]:
    out = []
    for method, template in app_routes:
        path = re.sub(r"\{bot_id(:\w+)?\}", str(tenant.bot_id), template)
        path = re.sub(r"\{[a-z_]+:uuid\}|\{[a-z_]+\}", str(uuid.uuid4()), path)
        out.append((method, template, path))
    return out


async def test_a_publishable_key_reaches_only_the_widget_routes(
    tmp_path: Path, database_url: str, abuse_report: AbuseReport
) -> None:
    tenant = await create_tenant(database_url)
    async with door_server(tmp_path, database_url, rate_limit_ip_per_minute=0) as server:
        schema = (await server.http.get("/schema/openapi.json")).json()
        app_routes = [
            (method.upper(), path)
            for path, item in schema["paths"].items()
            for method in item
            if method in ("get", "post", "put", "patch", "delete")
        ]
        reached = set()
        for method, template, path in _routes(app_routes, tenant):
            if SKIPPED.search(template):
                continue
            for headers in (
                tenant.widget_headers,
                {"Authorization": f"Bearer {tenant.publishable_key}", "Origin": tenant.origin},
            ):
                response = await server.http.request(method, path, headers=headers, json={})
                abuse_report.check(response.status_code, f"{method} {template} with ppk_")
                assert response.status_code < 500, (method, template, response.text)
                if response.is_success:
                    reached.add((method, re.sub(r"\{(\w+):\w+\}", r"{\1}", template)))
                elif response.status_code != 204:
                    assert response.headers["content-type"].startswith("application/problem+json")
        judged = {(m, t) for m, t in reached if not NOT_JUDGED_HERE.match(t)}
        assert judged <= WIDGET_ROUTES, judged - WIDGET_ROUTES
        assert ("POST", "/v1/bots/{bot_id}/sessions") in reached


async def _chat(http: httpx.AsyncClient, tenant: TenantKeys, **headers: str) -> httpx.Response:
    return await http.post(
        f"/v1/bots/{tenant.bot_id}/chat",
        json={"message": "what are your opening hours?", "stream": False},
        headers={**tenant.widget_headers, **headers},
    )


async def test_one_visitor_cannot_send_a_bot_more_than_its_hourly_messages(
    tmp_path: Path, database_url: str, abuse_report: AbuseReport
) -> None:
    tenant = await create_tenant(database_url)
    async with door_server(
        tmp_path, database_url, visitor_messages_per_hour=3, trusted_proxies="127.0.0.1"
    ) as server:
        statuses = []
        for _ in range(5):
            response = await _chat(server.http, tenant, **{"X-Forwarded-For": "198.51.100.7"})
            abuse_report.check(response.status_code, "POST /v1/bots/{id}/chat visitor cap")
            statuses.append(response.status_code)
        assert statuses == [200, 200, 200, 429, 429]
        assert response.json()["bucket"] == "visitor_messages"
        assert int(response.headers["retry-after"]) > 60  # an hourly window
        # Another visitor of the same widget is not punished for the first one.
        other = await _chat(server.http, tenant, **{"X-Forwarded-For": "198.51.100.8"})
        assert other.status_code == 200
        # A server with a secret key is not a visitor.
        owner = await server.http.post(
            f"/v1/bots/{tenant.bot_id}/chat",
            json={"message": "hello", "stream": False},
            headers=tenant.secret_headers,
        )
        assert owner.status_code == 200


async def test_a_visitor_over_its_hourly_voice_seconds_hears_unavailable(
    tmp_path: Path, database_url: str, abuse_report: AbuseReport
) -> None:
    tenant = await create_tenant(database_url)
    async with door_server(tmp_path, database_url, visitor_voice_seconds_per_hour=30) as server:
        token = (await server.token(tenant.bot_id, tenant.widget_headers)).json()["token"]
        spare = (await server.token(tenant.bot_id, tenant.widget_headers)).json()["token"]
        async with voice_client(f"{server.ws_url}?token={token}", Origin=tenant.origin) as c:
            await c.start(tenant.bot_id)
            server.clock.advance(50)  # the call lasts 50 s by the token clock

        async def ended() -> bool:
            sessions = server.services.visitor_sessions
            return sessions.open_count(tenant.bot_id, "127.0.0.1") == 0

        await eventually(ended)
        refused = await server.token(tenant.bot_id, tenant.widget_headers)
        # A deliberate 503 (asserted next): visitors are told "unavailable", not a server fault.
        abuse_report.tried()
        assert refused.status_code == 503
        body = refused.json()
        assert body["detail"] == "this assistant is unavailable right now; please try again later"
        async with voice_client(f"{server.ws_url}?token={spare}", Origin=tenant.origin) as c:
            await c.closed.wait()
            assert c.ws.close_code == 4402
            assert c.events("error")[0]["code"] == "unavailable"
        server.clock.advance(3600)  # an hour later the visitor may call again
        assert (await server.token(tenant.bot_id, tenant.widget_headers)).status_code == 201


TINY_PLAN = """
[plans.tiny]
name = "Tiny"
bots = 1
documents = 5
storage_bytes = 1_000_000
messages_per_month = 1
voice_minutes_per_month = 1
concurrent_voice_sessions = 1
"""


async def test_a_used_up_plan_shows_visitors_unavailable_and_owners_the_plan(
    tmp_path: Path, database_url: str, abuse_report: AbuseReport
) -> None:
    plans = tmp_path / "plans.toml"
    plans.write_text(TINY_PLAN)
    tenant = await create_tenant(database_url)
    async with door_server(
        tmp_path, database_url, billing_plans_file=plans, billing_default_plan="tiny"
    ) as server:
        assert (await _chat(server.http, tenant)).status_code == 200
        visitor = await _chat(server.http, tenant)
        abuse_report.tried()  # the deliberate "unavailable" 503 is asserted below
        owner = await server.http.post(
            f"/v1/bots/{tenant.bot_id}/chat",
            json={"message": "hello", "stream": False},
            headers=tenant.secret_headers,
        )
    assert visitor.status_code == 503
    assert visitor.headers["content-type"].startswith("application/problem+json")
    shown = visitor.text.lower()
    for secret in ("tiny", "plan", "used", "limit", "upgrade"):
        assert secret not in shown
    assert owner.status_code == 402
    assert owner.json()["plan"] == "tiny"


async def test_a_visitor_refused_by_the_plan_on_voice_sees_no_plan_details(
    tmp_path: Path, database_url: str, abuse_report: AbuseReport
) -> None:
    plans = tmp_path / "plans.toml"
    plans.write_text(TINY_PLAN)  # one voice line
    tenant = await create_tenant(database_url)
    async with door_server(
        tmp_path, database_url, billing_plans_file=plans, billing_default_plan="tiny"
    ) as server:
        first = (await server.token(tenant.bot_id, tenant.widget_headers)).json()["token"]
        second = (await server.token(tenant.bot_id, tenant.widget_headers)).json()["token"]
        start = {"type": "session.start", "bot_id": str(tenant.bot_id), "sample_rate": 16000}
        async with voice_client(f"{server.ws_url}?token={first}", Origin=tenant.origin) as line:
            await line.start(tenant.bot_id)
            url = f"{server.ws_url}?token={second}"
            async with voice_client(url, Origin=tenant.origin) as refused:
                await refused.ws.send(json.dumps(start))
                error = await refused.wait_for("error")
                abuse_report.tried()
            async with voice_client(server.ws_url, **tenant.secret_headers) as owner:
                await owner.ws.send(json.dumps(start))
                owners_error = await owner.wait_for("error")
    assert error["code"] == "quota_exceeded"
    assert set(error) <= {"type", "code", "message", "fatal", "details"}
    assert not error.get("details")
    for secret in ("tiny", "plan", "used", "limit"):
        assert secret not in json.dumps(error).lower()
    assert "tiny" in json.dumps(owners_error).lower()  # the owner's server is told the plan


async def test_the_chat_socket_counts_each_visitor_message_against_the_same_cap(
    tmp_path: Path, database_url: str, abuse_report: AbuseReport
) -> None:
    # One socket authenticates once; without a per-message count it would bypass the cap.
    tenant = await create_tenant(database_url)
    async with door_server(tmp_path, database_url, visitor_messages_per_hour=2) as server:
        url = server.url.replace("http://", "ws://") + f"/v1/bots/{tenant.bot_id}/chat/ws"
        async with connect(url, additional_headers=tenant.widget_headers) as ws:
            assert json.loads(await ws.recv())["type"] == "ready"
            outcomes = []
            for _ in range(3):
                await ws.send(json.dumps({"type": "message", "text": "when do you open?"}))
                abuse_report.tried()
                while True:
                    event = json.loads(await ws.recv())
                    if event["type"] in ("done", "error"):
                        outcomes.append(event["type"] if event["type"] == "done" else event)
                        break
            assert outcomes[:2] == ["done", "done"]
            refused = outcomes[2]
            assert isinstance(refused, dict)
            assert (refused["code"], refused["fatal"]) == ("rate_limited", False)
        # HTTP chat from the same visitor shares the spent allowance.
        assert (await _chat(server.http, tenant)).status_code == 429


async def test_a_visitor_on_the_chat_socket_sees_no_plan_details(
    tmp_path: Path, database_url: str, abuse_report: AbuseReport
) -> None:
    plans = tmp_path / "plans.toml"
    plans.write_text(TINY_PLAN)  # one message a month
    tenant = await create_tenant(database_url)
    async with door_server(
        tmp_path, database_url, billing_plans_file=plans, billing_default_plan="tiny"
    ) as server:
        assert (await _chat(server.http, tenant)).status_code == 200  # the month's one message
        url = server.url.replace("http://", "ws://") + f"/v1/bots/{tenant.bot_id}/chat/ws"
        async with connect(url, additional_headers=tenant.widget_headers) as ws:
            assert json.loads(await ws.recv())["type"] == "ready"
            await ws.send(json.dumps({"type": "message", "text": "when do you open?"}))
            abuse_report.tried()
            error = json.loads(await ws.recv())
    assert (error["type"], error["code"], error["fatal"]) == ("error", "unavailable", False)
    shown = json.dumps(error).lower()
    for secret in ("tiny", "plan", "used", "limit", "upgrade"):
        assert secret not in shown
