"""Fixtures shared by every test: the run's PostgreSQL, a database per test, settings, a server."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.postgres import (
    create_database,
    create_template,
    drop_database,
    test_server,
    with_database,
)
from tests.support.server import serve_app
from voice_server.app import create_app
from voice_server.settings import Settings


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """Admin URL of the run's server: DATABASE_URL when set, else one embedded server."""
    with test_server(os.environ.get("DATABASE_URL")) as url:
        yield url


@pytest.fixture(scope="session")
def pg_template(pg_admin_url: str) -> Iterator[str]:
    """A database with every migration applied, cloned for each test."""
    name = asyncio.run(create_template(pg_admin_url))
    yield name
    asyncio.run(drop_database(pg_admin_url, name))


@pytest.fixture
async def database_url(pg_admin_url: str, pg_template: str) -> AsyncIterator[str]:
    """A migrated database of this test's own."""
    name = await create_database(pg_admin_url, template=pg_template)
    yield with_database(pg_admin_url, name)
    await drop_database(pg_admin_url, name)


@pytest.fixture
async def empty_database_url(pg_admin_url: str) -> AsyncIterator[str]:
    """A database of this test's own with no migrations applied."""
    name = await create_database(pg_admin_url, template=None)
    yield with_database(pg_admin_url, name)
    await drop_database(pg_admin_url, name)


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    """Settings for tests: no .env, nothing from the developer's environment."""
    values: dict[str, object] = {"data_dir": tmp_path / "data", "log_json": True}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url)


@pytest.fixture
async def server_url(settings: Settings) -> AsyncIterator[str]:
    """The whole app on a real port, against this test's database."""
    async with serve_app(create_app(settings)) as url:
        yield url


@pytest.fixture
async def http(server_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server_url, timeout=10) as client:
        yield client
