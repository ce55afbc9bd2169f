"""One vocabulary across the API: errors name the right scope and the first bad field, and the
preview takes `message` like the chat (with `question` kept as a documented alias)."""

from __future__ import annotations

import httpx

from tests.support.tenants import create_tenant


async def test_reading_a_key_names_the_read_scope(
    http: httpx.AsyncClient, database_url: str
) -> None:
    owner = await create_tenant(database_url)
    keys = (await http.get("/v1/keys", headers=owner.user_headers)).json()["items"]
    assert keys
    for path in ("/v1/keys", f"/v1/keys/{keys[0]['id']}"):
        refused = await http.get(path, headers=owner.secret_headers)
        assert refused.status_code == 403
        assert refused.json()["required_scope"] == "keys:read"
        assert "`keys:read`" in refused.json()["detail"]
    me = (await http.get("/v1/me", headers=owner.user_headers)).json()
    assert {"keys:read", "keys:write"} <= set(me["scopes"])


async def test_validation_errors_name_the_first_bad_field(
    http: httpx.AsyncClient, database_url: str
) -> None:
    owner = await create_tenant(database_url)
    refused = await http.post("/v1/bots", json={"name": 42}, headers=owner.user_headers)
    assert refused.status_code == 400
    body = refused.json()
    assert body["field"] == "name"
    assert body["detail"].startswith("invalid `name`: ")
    assert body["errors"][0]["key"] == "name"


async def test_preview_takes_message_and_still_accepts_question(
    parley_url: str, database_url: str
) -> None:
    owner = await create_tenant(database_url)
    path = f"/v1/bots/{owner.bot_id}/preview"
    async with httpx.AsyncClient(
        base_url=parley_url, headers=owner.user_headers, timeout=30
    ) as http:
        for body in ({"message": "When do you open?"}, {"question": "When do you open?"}):
            answered = await http.post(path, json=body)
            assert answered.status_code == 200, answered.text
            assert answered.json()["answer"]
        missing = await http.post(path, json={"history": []})
        assert missing.status_code == 400
        assert missing.json()["field"] == "message"
