"""Render time of the console's pages on one big tenant: 100 bots and 100,000 messages
(the dashboard benchmark's data set), through the real app under uvicorn, signed in with the
console's cookie, one request at a time.

    python -m benchmarks.console [--requests 100]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx

from benchmarks.dashboard import BOTS, CONVERSATIONS, MESSAGES_PER_CONVERSATION, seed, timed
from benchmarks.report import Report, summary_ms
from tests.support.server import serve_app
from tests.support.tenants import create_tenant
from voice_server.app import create_app
from voice_server.settings import Settings


async def sign_in(http: httpx.AsyncClient, email: str, password: str) -> None:
    form = await http.get("/console/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    response = await http.post(
        "/console/sign-in",
        data={"csrf_token": token.group(1), "email": email, "password": password},
    )
    assert response.status_code == 303, response.text


async def run(requests: int) -> Report:
    with tempfile.TemporaryDirectory(prefix="parley-console-", dir="/tmp") as tmp:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            data_dir=Path(tmp) / "data",
            log_level="WARNING",
            rate_limit_key_per_minute=0,
            rate_limit_tenant_per_minute=0,
            rate_limit_auth_per_minute=0,
        )
        app = create_app(settings)
        async with serve_app(app) as base:
            url = app.state.database.url
            tenant = await create_tenant(url)
            await seed(url, tenant.tenant_id, tenant.bot_id)
            conn = await asyncpg.connect(url)
            try:
                voice = await conn.fetchval(
                    "SELECT conversation_id FROM voice_sessions WHERE tenant_id = $1 LIMIT 1",
                    tenant.tenant_id,
                )
            finally:
                await conn.close()
            async with httpx.AsyncClient(base_url=base, timeout=60) as http:
                await sign_in(http, tenant.email, tenant.password)
                pages = {
                    "/console/bots (100 bots)": "/console/bots",
                    "/console/conversations (first 50)": "/console/conversations",
                    "/console/conversations?answered=no": "/console/conversations?answered=no",
                    "/console/conversations/{id} (voice, waterfalls)": (
                        f"/console/conversations/{voice}"
                    ),
                    "/console/analytics (30 days)": "/console/analytics",
                    "/console/keys": "/console/keys",
                    "/console/knowledge": "/console/knowledge",
                    "/console/billing": "/console/billing",
                }
                results = {}
                for name, path in pages.items():
                    call: Callable[[], Awaitable[httpx.Response]] = lambda p=path: http.get(p)  # noqa: E731
                    n = requests if "analytics" not in name else max(20, requests // 4)
                    results[name] = summary_ms(await timed(call, n))
                    print(name, results[name])
    return Report(
        name="console",
        title="Console page render: one tenant with 100 bots and 100,000 messages",
        columns=["page", "n", "p50 ms", "p95 ms", "p99 ms"],
        rows=[[k, v["n"], v["p50_ms"], v["p95_ms"], v["p99_ms"]] for k, v in results.items()],
        data={
            "results": results,
            "bots": BOTS,
            "conversations": CONVERSATIONS,
            "messages": CONVERSATIONS * MESSAGES_PER_CONVERSATION,
        },
        notes=[
            "Embedded PostgreSQL 18 + pgvector, app under uvicorn on 127.0.0.1, one client with "
            "the console's session cookie, sequential full-page GETs (HTML rendered), 3 warm-ups.",
            "Same data as benchmarks.dashboard: 10,000 conversations (2,000 voice, 10,000 turns).",
            "Measured on the shared 2-core machine while other sessions were running.",
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(run(args.requests)).save()


if __name__ == "__main__":
    main()
