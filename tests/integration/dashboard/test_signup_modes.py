"""PARLEY_SIGNUP: open, invite (the default) and closed; the first account always works."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest

from dashboard_api.repositories import signing_secrets
from dashboard_api.signup import SignupInvites
from tests.conftest import make_settings
from tests.support.server import serve_app
from voice_server.app import create_app
from voice_server.cli import main

PASSWORD = "a long enough password"


@asynccontextmanager
async def _server(
    tmp_path: Path, database_url: str, **values: object
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(tmp_path, database_url=database_url, **values)
    async with serve_app(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        yield http


async def _signup(http: httpx.AsyncClient, email: str, **extra: object) -> httpx.Response:
    body = {"email": email, "password": PASSWORD, "tenant_name": "Shop", **extra}
    return await http.post("/v1/auth/signup", json=body)


async def _invites(database_url: str) -> SignupInvites:
    conn = await asyncpg.connect(database_url)
    try:
        secret, _ = await signing_secrets.get_or_create(conn)
    finally:
        await conn.close()
    return SignupInvites(secret)


async def test_invite_is_the_default_and_needs_the_operators_code(
    tmp_path: Path, database_url: str
) -> None:
    async with _server(tmp_path, database_url) as http:
        first = await _signup(http, "first@shop.example")
        assert first.status_code == 201  # the server's first account
        stranger = await _signup(http, "stranger@example.com")
        assert stranger.status_code == 403
        assert stranger.headers["content-type"].startswith("application/problem+json")
        assert stranger.json()["code"] == "signup_invite_required"
        invites = await _invites(database_url)
        code = invites.issue("invited@example.com")
        wrong_person = await _signup(http, "stranger@example.com", invite=code)
        assert wrong_person.json()["code"] == "signup_invite_invalid"
        invited = await _signup(http, "Invited@Example.com", invite=code)
        assert invited.status_code == 201
        reused = await _signup(http, "invited@example.com", invite=code)
        assert reused.status_code == 403
        expired = SignupInvites(b"x" * 64).issue("late@example.com")  # not our signature
        assert (await _signup(http, "late@example.com", invite=expired)).status_code == 403


async def test_closed_refuses_everyone_but_the_first_account(
    tmp_path: Path, database_url: str
) -> None:
    async with _server(tmp_path, database_url, signup="closed") as http:
        assert (await _signup(http, "first@shop.example")).status_code == 201
        code = (await _invites(database_url)).issue("invited@example.com")
        refused = await _signup(http, "invited@example.com", invite=code)
    assert refused.status_code == 403
    assert refused.json()["code"] == "signup_closed"


async def test_open_takes_anyone(tmp_path: Path, database_url: str) -> None:
    async with _server(tmp_path, database_url, signup="open") as http:
        statuses = [(await _signup(http, f"user{n}@example.com")).status_code for n in range(3)]
    assert statuses == [201, 201, 201]


async def test_the_cli_prints_a_code_the_server_accepts(
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with _server(tmp_path, database_url) as http:
        assert (await _signup(http, "first@shop.example")).status_code == 201
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("PARLEY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        code = await asyncio.to_thread(main, ["signup-invite", "cli@example.com"])
    finally:
        root.handlers[:] = handlers  # the command configures logging for itself
        root.setLevel(level)
    assert code == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    async with _server(tmp_path, database_url) as http:
        assert (await _signup(http, "cli@example.com", invite=printed)).status_code == 201


async def test_two_sign_ups_at_once_on_an_empty_server_make_only_one_first_account(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url=database_url, signup="closed")
    async with serve_app(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        bodies = [
            {"email": f"owner{i}@shop.example", "password": "correct horse 123", "tenant_name": "S"}
            for i in range(4)
        ]
        answers = await asyncio.gather(*(http.post("/v1/auth/signup", json=b) for b in bodies))
    assert sorted(a.status_code for a in answers) == [201, 403, 403, 403]
