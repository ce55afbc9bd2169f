"""The plan's limits and the server's own end over WebRTC: a busy line is refused with the
spoken notice on the reply track, and a server that stops stores and closes every live call."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aioice.ice
import asyncpg
import ifaddr
import pytest

from tests.conftest import make_settings
from tests.integration.voice.harness import eventually
from tests.integration.webrtc.caller import WebRtcCaller
from tests.integration.webrtc.test_call import stored_session
from tests.support.server import serve_app
from tests.support.tenants import create_tenant
from voice_server.app import create_app
from voice_server.runtime import runtime_of
from voice_server.voice.webrtc.manager import WEBRTC, PeerManager

ONE_LINE_PLAN = """
[plans.one_line]
name = "One line"
bots = 1
documents = 5
storage_bytes = 1_000_000
messages_per_month = 100
voice_minutes_per_month = 100
concurrent_voice_sessions = 1
"""
BUSY = "All lines are busy."


async def test_a_second_call_on_a_busy_line_hears_the_notice_on_the_track(
    tmp_path: Path, database_url: str
) -> None:
    plans = tmp_path / "plans.toml"
    plans.write_text(ONE_LINE_PLAN)
    tenant = await create_tenant(database_url)
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        billing_plans_file=plans,
        billing_default_plan="one_line",
        billing_voice_busy_notice=BUSY,
    )
    app = create_app(settings)
    async with serve_app(app) as url:
        first = WebRtcCaller(url, tenant.secret_headers)
        second = WebRtcCaller(url, tenant.secret_headers)
        try:
            assert (await first.offer(tenant.bot_id)).status_code == 201
            await first.start(tenant.bot_id)
            assert (await second.offer(tenant.bot_id)).status_code == 201
            async with asyncio.timeout(20):
                await second._open.wait()
            asked = time.monotonic()
            second.send({"type": "session.start", "bot_id": str(tenant.bot_id)})
            refusal = await second.wait_for("error")
            assert refusal["code"] == "quota_exceeded"
            assert refusal["fatal"] is True
            assert refusal["limit_name"] == "concurrent_voice_sessions"
            assert (await second.wait_for("notice"))["text"] == BUSY
            await second.wait_for("audio.end")
            assert len(second.loud_since(asked)) > 10  # the notice was spoken on the track
            assert second.of("session.started") == []
            async with asyncio.timeout(20):
                await second.channel_closed.wait()  # the server hangs up after the notice
            first.send({"type": "session.end"})
            await first.wait_for("session.ended")
        finally:
            await first.close()
            await second.close()
        manager: PeerManager = runtime_of(app).get(WEBRTC)

        async def closed() -> bool:
            return manager.live_connections == 0 and not manager.peers

        await eventually(closed, timeout_s=20)
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM voice_sessions") == 1
    finally:
        await conn.close()


async def test_a_server_that_stops_stores_and_closes_its_live_calls(
    tmp_path: Path, database_url: str
) -> None:
    tenant = await create_tenant(database_url)
    app = create_app(make_settings(tmp_path, database_url=database_url))
    caller = WebRtcCaller("", tenant.secret_headers)
    try:
        async with serve_app(app) as url:
            caller.base_url = url
            assert (await caller.offer(tenant.bot_id)).status_code == 201
            await caller.start(tenant.bot_id)
            manager: PeerManager = runtime_of(app).get(WEBRTC)
        # The lifespan has ended: every call was stored and its connection closed.
        assert manager.live_connections == 0
        assert manager.live_tasks() == set()
        ended = await caller.wait_for("session.ended")
        assert ended["reason"] == "server_shutdown"
    finally:
        await caller.close()
    session = await stored_session(database_url)
    assert session["end_reason"] == "server_shutdown"


async def test_offers_beyond_the_servers_peer_limit_get_503(
    tmp_path: Path, database_url: str
) -> None:
    tenant = await create_tenant(database_url)
    app = create_app(make_settings(tmp_path, database_url=database_url, webrtc_max_peers=1))
    async with serve_app(app) as url:
        first = WebRtcCaller(url, tenant.secret_headers)
        second = WebRtcCaller(url, tenant.secret_headers)
        try:
            assert (await first.offer(tenant.bot_id)).status_code == 201
            busy = await second.offer(tenant.bot_id)
            assert busy.status_code == 503
            assert busy.json()["type"] == "https://parley.dev/problems/webrtc-busy"
            assert (await first.delete()).status_code == 204
            third = await second.offer(tenant.bot_id)  # a line is free again
            assert third.status_code == 201
            assert (await second.delete()).status_code == 204
            manager: PeerManager = runtime_of(app).get(WEBRTC)
            assert manager.live_connections == 0
        finally:
            await first.close()
            await second.close()


def first_ipv4() -> str:
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ip.ip.startswith("127."):
                return ip.ip
    pytest.skip("no IPv4 interface besides loopback")


async def test_the_answer_gathers_only_on_chosen_interfaces_and_advertises_the_nat_address(
    tmp_path: Path, database_url: str
) -> None:
    tenant = await create_tenant(database_url)
    original = aioice.ice.get_host_addresses
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        webrtc_interfaces=first_ipv4(),
        webrtc_host_address="203.0.113.9",
    )
    app = create_app(settings)
    async with serve_app(app) as url:
        caller = WebRtcCaller(url, tenant.secret_headers)
        try:
            answer = await caller.offer(tenant.bot_id)
            assert answer.status_code == 201
            hosts = [
                line.split(" ")[4:6]
                for line in answer.json()["sdp"].split("\r\n")
                if line.startswith("a=candidate:") and " typ host" in line
            ]
            assert hosts
            assert {address for address, _ in hosts} == {"203.0.113.9"}  # IPv4 only, NATed
            assert (await caller.delete()).status_code == 204
        finally:
            await caller.close()
    assert aioice.ice.get_host_addresses is original  # restored with the app's lifespan
