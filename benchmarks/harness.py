"""Parley under test: the embedded database, the vendor fakes in their own process, and Parley
itself started the way users start it (`python -m voice_server serve`), in its own process, so
that CPU and memory are measured on the server alone.

    async with parley_under_test("cloud") as target:
        target.ws_url, target.bot_id, target.origin, target.publishable_key, target.pid
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import httpx

from benchmarks.vendors import PROFILES, Vendors, vendors_process
from tests.fakes.latency import LatencyProfile
from tests.support.postgres import create_database, create_template, test_server, with_database
from tests.support.server import free_port
from tests.support.tenants import create_tenant
from voice_server.settings import Settings


@dataclass(frozen=True)
class Target:
    ws_url: str
    http_url: str
    bot_id: UUID
    origin: str
    publishable_key: str
    profile: LatencyProfile
    settings: Settings
    pid: int  # the server process, for CPU and memory figures


def server_environment(database_url: str, data_dir: Path, port: int, vendors: Vendors | None,
                       extra: Mapping[str, str] | None = None) -> dict[str, str]:  # fmt: skip
    """The PARLEY_* settings of the server under test, as a user would set them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(
        PARLEY_DATA_DIR=str(data_dir), DATABASE_URL=database_url, PARLEY_PORT=str(port),
        PARLEY_HOST="127.0.0.1", PARLEY_LOG_LEVEL="WARNING", PARLEY_DB_POOL_MAX="40",
        PARLEY_BILLING_DEFAULT_PLAN="unlimited",
        # Every caller comes from 127.0.0.1 with one widget key: a real deployment would see
        # them as many visitors, so the per-IP, per-key and per-tenant budgets are off.
        PARLEY_RATE_LIMIT_IP_PER_MINUTE="0", PARLEY_RATE_LIMIT_KEY_PER_MINUTE="0",
        PARLEY_RATE_LIMIT_TENANT_PER_MINUTE="0", PARLEY_VOICE_STARTS_IP_PER_MINUTE="0",
        PARLEY_VOICE_STARTS_KEY_PER_MINUTE="0", PARLEY_VOICE_STARTS_TENANT_PER_MINUTE="0",
        PARLEY_VOICE_SESSIONS_PER_VISITOR="0", PARLEY_VISITOR_VOICE_SECONDS_PER_HOUR="0",
    )  # fmt: skip
    if vendors is not None:
        env.update(
            PARLEY_STT_PROVIDER="groq", GROQ_API_KEY=vendors.groq_audio_key,
            PARLEY_GROQ_BASE_URL=vendors.groq_audio_url,
            PARLEY_TTS_PROVIDER="deepgram", DEEPGRAM_API_KEY=vendors.deepgram_key,
            PARLEY_DEEPGRAM_BASE_URL=vendors.deepgram_url,
            PARLEY_LLM_PROVIDER="groq", PARLEY_LLM_API_KEY=vendors.chat_key,
            PARLEY_LLM_BASE_URL=vendors.chat_url,
        )  # fmt: skip
    env.update(extra or {})
    return env


async def wait_ready(url: str, process: asyncio.subprocess.Process, what: str) -> None:
    """Poll ``url`` until it answers 200; fail at once if ``process`` exits first."""
    async with httpx.AsyncClient() as client:
        for _ in range(1200):
            if process.returncode is not None:
                raise RuntimeError(f"{what} exited with {process.returncode} while starting")
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{what} did not become ready within 120 s")


async def stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 30 s."""
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()


@asynccontextmanager
async def parley_process(env: dict[str, str], port: int) -> AsyncIterator[int]:
    """Run `python -m voice_server serve` until /readyz answers 200; yield its pid; SIGTERM."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voice_server", "serve", env=env
    )
    try:
        await wait_ready(f"http://127.0.0.1:{port}/readyz", process, "parley")
        yield process.pid
    finally:
        await stop(process)


@asynccontextmanager
async def parley_under_test(
    profile_name: str,
    *,
    offline: bool = False,
    vendors: Vendors | None = None,
    extra_env: Mapping[str, str] | None = None,
    knowledge: bool = True,
) -> AsyncIterator[Target]:
    """Start everything. ``vendors``: fakes already running (the Pipecat comparison points both
    servers at one process), else they are started here; ``offline`` uses the embedded engines
    instead; ``knowledge`` seeds the knowledge base (else it stays empty)."""
    async with AsyncExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="parley-bench-")))
        admin_url = stack.enter_context(test_server(None))
        template = await create_template(admin_url)
        database_url = with_database(admin_url, await create_database(admin_url, template=template))
        if vendors is None and not offline:
            vendors = await stack.enter_async_context(vendors_process(profile_name))
        tenant = await create_tenant(database_url, plan="business")
        port = free_port()
        env = server_environment(database_url, tmp / "data", port, vendors, extra_env)
        settings = Settings(_env_file=None, **_settings_values(env))  # type: ignore[arg-type]
        pid = await stack.enter_async_context(parley_process(env, port))
        http_url = f"http://127.0.0.1:{port}"
        if knowledge:
            await seed_knowledge(http_url, tenant.secret_headers)
        yield Target(
            ws_url=f"ws://127.0.0.1:{port}/v1/voice/ws",
            http_url=http_url,
            bot_id=tenant.bot_id,
            origin=tenant.origin,
            publishable_key=tenant.publishable_key,
            profile=PROFILES[profile_name],
            settings=settings,
            pid=pid,
        )


async def seed_knowledge(http_url: str, headers: Mapping[str, str]) -> None:
    """Upload the knowledge base of the retrieval evaluation (24 documents of a fictional shop,
    in several formats) through the documents API, and wait until all are searchable, so that
    every turn retrieves from a realistic corpus."""
    from benchmarks.rag_eval import render

    documents = json.loads((Path(__file__).parent / "data" / "rag_eval.json").read_text())
    async with httpx.AsyncClient(base_url=http_url, headers=dict(headers), timeout=60) as client:
        ids = []
        for doc in documents["documents"]:
            response = await client.post(
                "/v1/documents", files={"file": (doc["key"], render(doc))},
                data={"title": doc["title"]},
            )  # fmt: skip
            response.raise_for_status()
            ids.append(response.json()["id"])
        for doc_id in ids:
            for _ in range(1200):
                status = (await client.get(f"/v1/documents/{doc_id}")).json()["status"]
                if status in ("ready", "failed"):
                    break
                await asyncio.sleep(0.05)
            if status != "ready":
                raise RuntimeError(f"benchmark document {doc_id} did not ingest: {status}")


def _settings_values(env: Mapping[str, str]) -> dict[str, str]:
    """The server's settings as the benchmark sees them (for figures such as the silence)."""
    names = {"DATABASE_URL": "database_url", "GROQ_API_KEY": "groq_api_key",
             "DEEPGRAM_API_KEY": "deepgram_api_key"}  # fmt: skip
    values = {}
    for key, value in env.items():
        if key.startswith("PARLEY_"):
            values[key.removeprefix("PARLEY_").lower()] = value
        elif key in names:
            values[names[key]] = value
    return values
