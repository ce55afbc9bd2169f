from __future__ import annotations

import httpx

from tests.support.tenants import TenantKeys


async def test_create_read_update_delete_a_bot(http: httpx.AsyncClient, tenant: TenantKeys) -> None:
    headers = tenant.user_headers
    created = await http.post(
        "/v1/bots",
        headers=headers,
        json={
            "name": "Front desk",
            "system_prompt": "You are helpful.",
            "starter_questions": ["What are your hours?"],
            "voice": {"voice_id": "en-gb", "speed": 1.2},
            "appearance": {"primary_color": "#112233", "position": "bottom-left"},
            "allowed_origins": ["https://Shop.example/"],
        },
    )
    assert created.status_code == 201, created.text
    bot = created.json()
    assert bot["allowed_origins"] == ["https://shop.example"]
    assert (bot["voice"]["voice_id"], bot["voice"]["speed"]) == ("en-gb", 1.2)
    # Unset knobs are null: the server's settings (PARLEY_VOICE_*, PARLEY_LLM_*) apply.
    assert (bot["voice"]["pitch"], bot["voice"]["end_of_turn_silence_ms"]) == (None, None)
    assert bot["llm"] == {"model": None, "temperature": None}

    read = await http.get(f"/v1/bots/{bot['id']}", headers=headers)
    assert read.json() == bot

    patched = await http.patch(
        f"/v1/bots/{bot['id']}",
        headers=headers,
        json={"greeting": "Hi!", "llm": {"model": "llama-3.1-8b-instant", "temperature": 0.1}},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["greeting"] == "Hi!"
    assert patched.json()["llm"] == {"model": "llama-3.1-8b-instant", "temperature": 0.1}
    assert patched.json()["starter_questions"] == ["What are your hours?"]  # untouched

    assert (await http.delete(f"/v1/bots/{bot['id']}", headers=headers)).status_code == 204
    assert (await http.get(f"/v1/bots/{bot['id']}", headers=headers)).status_code == 404


async def test_invalid_bot_fields_are_400(http: httpx.AsyncClient, tenant: TenantKeys) -> None:
    for body in (
        {"name": ""},
        {"name": "x", "voice": {"speed": 9}},
        {"name": "x", "appearance": {"primary_color": "red"}},
        {"name": "x", "allowed_origins": ["https://*.shop.example"]},
        {"name": "x", "colour": "blue"},
        {"name": "x", "end_of_turn_silence_ms": 10},
    ):
        response = await http.post("/v1/bots", headers=tenant.user_headers, json=body)
        assert response.status_code == 400, body
        assert response.headers["content-type"].startswith("application/problem+json")
    empty = await http.patch(f"/v1/bots/{tenant.bot_id}", headers=tenant.user_headers, json={})
    assert empty.status_code == 400


async def test_bot_list_pages_with_a_cursor(http: httpx.AsyncClient, tenant: TenantKeys) -> None:
    for i in range(5):
        response = await http.post(
            "/v1/bots", headers=tenant.secret_headers, json={"name": f"B{i}"}
        )
        assert response.status_code == 201
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await http.get("/v1/bots", headers=tenant.user_headers, params=params)).json()
        seen += [b["name"] for b in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["B4", "B3", "B2", "B1", "B0", "Support"]
    found = await http.get("/v1/bots", headers=tenant.user_headers, params={"q": "b3"})
    assert [b["name"] for b in found.json()["items"]] == ["B3"]
    bad = await http.get("/v1/bots", headers=tenant.user_headers, params={"cursor": "!!"})
    assert bad.status_code == 400


async def test_duplicate_copies_settings_under_a_new_id(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    await http.patch(
        f"/v1/bots/{tenant.bot_id}", headers=tenant.user_headers, json={"greeting": "Hello"}
    )
    copy = await http.post(f"/v1/bots/{tenant.bot_id}/duplicate", headers=tenant.user_headers)
    assert copy.status_code == 201
    assert copy.json()["id"] != str(tenant.bot_id)
    assert copy.json()["name"] == "Support (copy)"
    assert copy.json()["greeting"] == "Hello"


async def test_embed_code_carries_a_working_publishable_key(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    response = await http.get(f"/v1/bots/{tenant.bot_id}/embed", headers=tenant.user_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["publishable_key"] == tenant.publishable_key
    assert f'data-key="{tenant.publishable_key}"' in body["snippet"]
    assert body["snippet"].startswith(f'<script src="{http.base_url}'.rstrip("/"))
    assert "/widget/parley." in body["snippet"]


async def test_embed_code_makes_a_key_from_the_bots_origins(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    bot = (
        await http.post("/v1/bots", headers=tenant.user_headers, json={"name": "No key yet"})
    ).json()
    refused = await http.get(f"/v1/bots/{bot['id']}/embed", headers=tenant.user_headers)
    assert refused.status_code == 409
    await http.patch(
        f"/v1/bots/{bot['id']}",
        headers=tenant.user_headers,
        json={"allowed_origins": ["https://blog.example"]},
    )
    embed = (await http.get(f"/v1/bots/{bot['id']}/embed", headers=tenant.user_headers)).json()
    me = await http.get(
        "/v1/me",
        headers={"X-Parley-Key": embed["publishable_key"], "Origin": "https://blog.example"},
    )
    assert me.status_code == 200
    assert me.json()["bot_id"] == bot["id"]


async def test_changing_a_bots_origins_changes_its_keys(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    await http.patch(
        f"/v1/bots/{tenant.bot_id}",
        headers=tenant.user_headers,
        json={"allowed_origins": ["https://new.example"]},
    )
    old = await http.get("/v1/me", headers=tenant.widget_headers)
    assert old.status_code == 403
    new = await http.get(
        "/v1/me", headers={"X-Parley-Key": tenant.publishable_key, "Origin": "https://new.example"}
    )
    assert new.status_code == 200


async def test_publishable_keys_cannot_manage_bots(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    listing = await http.get("/v1/bots", headers=tenant.widget_headers)
    assert listing.status_code == 403
    create = await http.post("/v1/bots", headers=tenant.widget_headers, json={"name": "x"})
    assert create.status_code == 403


async def test_deleting_a_bot_kills_its_widget_key(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    assert (await http.get("/v1/me", headers=tenant.widget_headers)).status_code == 200
    await http.delete(f"/v1/bots/{tenant.bot_id}", headers=tenant.user_headers)
    assert (await http.get("/v1/me", headers=tenant.widget_headers)).status_code == 401
