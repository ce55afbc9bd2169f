"""A real server with a fake Groq behind it, for tests that drive the public API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.fakes.groq_chat import FakeGroq
from tests.support.server import serve_app
from voice_server.app import create_app


@pytest.fixture
async def parley_url(tmp_path: Path, database_url: str) -> AsyncIterator[str]:
    fake = FakeGroq()
    async with fake.serve() as groq_url:
        settings = make_settings(
            tmp_path,
            database_url=database_url,
            llm_provider="groq",
            llm_api_key=fake.api_key,
            llm_base_url=groq_url,
            rate_limit_auth_per_minute=0,
        )
        async with serve_app(create_app(settings)) as url:
            yield url
