"""Resuming over WebRTC: a new call's session.start on the `parley` channel continues an
earlier conversation with its resume secret; a wrong secret gets the typed error."""

from __future__ import annotations

import uuid

import asyncpg

from tests.integration.webrtc.caller import WebRtcCaller
from tests.integration.webrtc.conftest import WebRtcServer
from tests.integration.webrtc.test_call import no_call_left


async def test_a_new_call_continues_the_conversation_and_a_wrong_secret_is_refused(
    webrtc_server: WebRtcServer, database_url: str
) -> None:
    bot = webrtc_server.tenant.bot_id
    first = WebRtcCaller(webrtc_server.url, webrtc_server.headers)
    assert (await first.offer(bot)).status_code == 201
    started = await first.start(bot)
    assert started["resumed"] is False
    await first.close()
    await no_call_left(webrtc_server)

    wrong = WebRtcCaller(webrtc_server.url, webrtc_server.headers)
    assert (await wrong.offer(bot)).status_code == 201
    conversation = started["conversation_id"]
    await wrong.send_start(bot, conversation_id=conversation, resume_token="guessed")
    error = await wrong.wait_for("error")
    assert (error["code"], error["fatal"]) == ("conversation_not_found", True)
    assert not wrong.of("session.started")
    await wrong.close()
    await no_call_left(webrtc_server)

    second = WebRtcCaller(webrtc_server.url, webrtc_server.headers)
    assert (await second.offer(bot)).status_code == 201
    again = await second.start(
        bot, conversation_id=conversation, resume_token=started["resume_token"]
    )
    assert again["resumed"] is True
    assert again["conversation_id"] == started["conversation_id"]
    await second.close()
    await no_call_left(webrtc_server)

    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT conversation_id FROM voice_sessions")
        conversations = await conn.fetchval("SELECT count(*) FROM conversations")
    finally:
        await conn.close()
    assert [r["conversation_id"] for r in rows] == [uuid.UUID(started["conversation_id"])] * 2
    assert conversations == 1
