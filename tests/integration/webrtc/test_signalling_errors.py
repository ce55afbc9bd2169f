"""Bad input to the WebRTC signalling routes gets a problem document and leaves nothing behind;
a caller that vanishes without closing is ended by the idle timeout and stored."""

from __future__ import annotations

import asyncio
import secrets
import signal
import sys
import wave
from pathlib import Path

import httpx
import pytest

from tests.integration.webrtc.caller import WebRtcCaller
from tests.integration.webrtc.conftest import WebRtcServer, say
from tests.integration.webrtc.test_call import no_call_left, stored_session
from tests.support.tenants import create_tenant
from tests.unit.voice.audio_signals import silence

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, object] = response.json()
    assert body["type"] == f"https://parley.dev/problems/{slug}"
    assert body["status"] == status
    return body


async def test_bad_sdp_is_refused_with_a_problem_and_opens_nothing(
    webrtc_server: WebRtcServer,
) -> None:
    caller = WebRtcCaller(webrtc_server.url, webrtc_server.headers)
    await caller.pc.setLocalDescription(await caller.pc.createOffer())
    good = caller.pc.localDescription.sdp
    await caller.close()
    no_channel = good.split("m=application")[0]
    no_opus = good.replace("opus/48000/2", "PCMU/8000")
    async with httpx.AsyncClient(base_url=webrtc_server.url, headers=webrtc_server.headers) as http:
        bot = str(webrtc_server.tenant.bot_id)
        for sdp, words in (
            ("garbage", "not SDP"),
            (no_channel, "data channel"),
            (no_opus, "Opus"),
            ("v=0\r\n" + "a=x\r\n" * 10_000, "larger"),
        ):
            response = await http.post(
                "/v1/voice/webrtc/offer", json={"bot_id": bot, "sdp": sdp, "type": "offer"}
            )
            body = assert_problem(response, 400, "bad-sdp")
            assert words in str(body["detail"])
        missing = await http.post("/v1/voice/webrtc/offer", json={"bot_id": bot})
        assert_problem(missing, 400, "invalid-input")
        not_json = await http.post("/v1/voice/webrtc/offer", content=b"{")
        assert_problem(not_json, 400, "invalid-input")
    assert webrtc_server.peers.live_connections == 0
    assert webrtc_server.peers.peers == {}


async def test_unknown_peer_ids_answer_404(webrtc_server: WebRtcServer) -> None:
    async with httpx.AsyncClient(base_url=webrtc_server.url, headers=webrtc_server.headers) as http:
        unknown = f"/v1/voice/webrtc/{secrets.token_urlsafe(24)}"
        assert_problem(await http.delete(unknown), 404, "unknown-peer-connection")
        patched = await http.patch(unknown, json={"candidates": []})
        assert_problem(patched, 404, "unknown-peer-connection")


async def test_bad_candidates_are_refused_and_the_call_goes_on(
    webrtc_server: WebRtcServer,
) -> None:
    caller = WebRtcCaller(webrtc_server.url, webrtc_server.headers)
    try:
        assert (await caller.offer(webrtc_server.tenant.bot_id)).status_code == 201
        path = f"/v1/voice/webrtc/{caller.peer_id}"
        async with httpx.AsyncClient(
            base_url=webrtc_server.url, headers=webrtc_server.headers
        ) as http:
            bad = await http.patch(path, json={"candidates": [{"candidate": "candidate:nope"}]})
            assert_problem(bad, 400, "bad-sdp")
            mdns = "candidate:1 1 udp 2122260223 4f1c.local 50000 typ host"
            skipped = await http.patch(
                path, json={"candidates": [{"candidate": mdns, "sdpMid": "0"}]}
            )
            assert skipped.json() == {"peer_id": caller.peer_id, "added": 0}
        started = await caller.start(webrtc_server.tenant.bot_id)
        assert started["type"] == "session.started"
    finally:
        await caller.close()
    await no_call_left(webrtc_server)


async def test_wrong_credentials_are_refused(
    webrtc_server: WebRtcServer, database_url: str
) -> None:
    other = await create_tenant(database_url, name="Other")
    bot = webrtc_server.tenant.bot_id
    for headers, status, slug in (
        ({}, 401, "unauthenticated"),
        ({"Authorization": "Bearer psk_nope_nope"}, 401, "unauthenticated"),
        (other.secret_headers, 404, "not-found"),
        (
            webrtc_server.tenant.widget_headers,
            401,
            "unauthenticated",
        ),  # only via a token  # another tenant's bot does not exist for it
    ):
        caller = WebRtcCaller(webrtc_server.url, headers)
        try:
            assert_problem(await caller.offer(bot), status, slug)
        finally:
            await caller.close()
    # The peer id is the capability for PATCH and DELETE (the token was spent by the offer).
    mine = WebRtcCaller(webrtc_server.url, webrtc_server.headers)
    try:
        assert (await mine.offer(bot)).status_code == 201
        await mine.start(bot)
        async with httpx.AsyncClient(base_url=webrtc_server.url) as anonymous:
            assert (await anonymous.delete(f"/v1/voice/webrtc/{mine.peer_id}")).status_code == 204
    finally:
        await mine.close()
    await no_call_left(webrtc_server)


async def test_a_widget_calls_with_a_single_use_session_token(
    webrtc_server: WebRtcServer,
) -> None:
    tenant = webrtc_server.tenant
    async with httpx.AsyncClient(base_url=webrtc_server.url) as http:
        issued = await http.post(
            f"/v1/bots/{tenant.bot_id}/sessions",
            headers=tenant.widget_headers,
            json={"transport": "webrtc"},
        )
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    browser = {"Origin": tenant.origin}
    caller = WebRtcCaller(webrtc_server.url, browser)
    again = WebRtcCaller(webrtc_server.url, browser)
    try:
        assert (await caller.offer(tenant.bot_id, token=token)).status_code == 201
        started = await caller.start(tenant.bot_id)
        assert started["type"] == "session.started"
        assert_problem(await again.offer(tenant.bot_id, token=token), 401, "unauthenticated")
    finally:
        await caller.close()
        await again.close()
    await no_call_left(webrtc_server)


async def test_protocol_errors_on_the_channel_are_typed_events(
    webrtc_server: WebRtcServer,
) -> None:
    caller = WebRtcCaller(webrtc_server.url, webrtc_server.headers)
    try:
        assert (await caller.offer(webrtc_server.tenant.bot_id)).status_code == 201
        async with asyncio.timeout(20):
            await caller._open.wait()
        caller.channel.send("{not json")
        caller.channel.send(b"\x00\x01")
        caller.send({"type": "session.start", "bot_id": str(secrets.token_hex(16))})
        errors = [await caller.wait_for("error", n) for n in (1, 2, 3)]
        assert [e["code"] for e in errors] == ["invalid_json", "invalid_message", "bot_not_found"]
        assert not any(e["fatal"] for e in errors)
        await caller.start(webrtc_server.tenant.bot_id)
        caller.send({"type": "session.start", "bot_id": str(webrtc_server.tenant.bot_id)})
        again = await caller.wait_for("error", 4)
        assert again["code"] == "session_already_started"
    finally:
        await caller.close()
    await no_call_left(webrtc_server)


@pytest.mark.slow
async def test_a_caller_that_vanishes_is_ended_by_the_idle_timeout_and_stored(
    webrtc_server: WebRtcServer, database_url: str, tmp_path: Path
) -> None:
    wav_path = tmp_path / "hello.wav"
    with wave.open(str(wav_path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16_000)
        wav.writeframes(silence(200) + await say("hello there"))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.webrtc.caller",
        webrtc_server.url,
        str(webrtc_server.tenant.bot_id),
        webrtc_server.tenant.secret_key,
        str(wav_path),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(60):
            line = await process.stdout.readline()
        assert b"peer_id" in line
        assert len(webrtc_server.peers.peers) == 1
        process.send_signal(signal.SIGKILL)  # no DTLS close, no SCTP abort: it is just gone
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
    await no_call_left(webrtc_server)
    session = await stored_session(database_url)
    assert session["end_reason"] in {"idle_timeout", "ice_failed"}
