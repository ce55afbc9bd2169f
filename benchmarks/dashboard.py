"""Latency of the dashboard's heaviest reads on one big tenant: 100 bots and 100,000 messages
(10,000 conversations; 2,000 of them voice, with 10,000 turns) in the embedded PostgreSQL,
through the real app under uvicorn, one request at a time.

    python -m benchmarks.dashboard [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx

from benchmarks.report import Report, summary_ms
from tests.support.server import serve_app
from tests.support.tenants import create_tenant
from voice_server.app import create_app
from voice_server.settings import Settings

BOTS = 100
CONVERSATIONS = 10_000
MESSAGES_PER_CONVERSATION = 10
VOICE_EVERY = 5  # every 5th conversation is a voice call
QUESTIONS = ["What are your opening hours?", "Do you ship abroad?", "How do refunds work?",
             "Is there parking?", "Can I change my order?", "Do you have gift cards?"]  # fmt: skip


async def seed(url: str, tenant_id: object, first_bot: object) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            """INSERT INTO bots (tenant_id, name, system_prompt, config)
               SELECT $1, 'Bot ' || n, 'You help customers.',
                      '{"allowed_origins": ["https://shop.example"]}'::jsonb
               FROM generate_series(2, $2) n""",
            tenant_id,
            BOTS,
        )
        await conn.execute(
            """INSERT INTO conversations (tenant_id, bot_id, channel, visitor_id, started_at,
                                          ended_at)
               SELECT $1, b.id, CASE WHEN n % $3 = 0 THEN 'voice' ELSE 'text' END,
                      'visitor-' || (n % 3000), now() - (n * interval '4 minutes'),
                      now() - (n * interval '4 minutes') + interval '3 minutes'
               FROM generate_series(1, $2) n
               JOIN LATERAL (SELECT id FROM bots WHERE tenant_id = $1
                             ORDER BY id OFFSET (n % $4) LIMIT 1) b ON true""",
            tenant_id,
            CONVERSATIONS,
            VOICE_EVERY,
            BOTS,
        )
        await conn.execute(
            """INSERT INTO messages (tenant_id, conversation_id, role, content, citations,
                                     feedback, created_at)
               SELECT c.tenant_id, c.id,
                      CASE WHEN i % 2 = 0 THEN 'user' ELSE 'assistant' END,
                      CASE WHEN i % 2 = 0
                           THEN ($2::text[])[
                               1 + ((i / 2 + hashtext(c.id::text)::bigint) % 6 + 6) % 6]
                           ELSE 'Here is what I found in our help centre.' END,
                      CASE WHEN i % 4 = 3 THEN '[]'::jsonb ELSE '[{"title": "FAQ"}]'::jsonb END,
                      CASE WHEN i = 1 THEN 1 WHEN i = 3 THEN -1 END,
                      c.started_at + i * interval '10 seconds'
               FROM conversations c, generate_series(0, $3 - 1) i
               WHERE c.tenant_id = $1""",
            tenant_id,
            QUESTIONS,
            MESSAGES_PER_CONVERSATION,
        )
        await conn.execute(
            """INSERT INTO voice_sessions (tenant_id, bot_id, conversation_id, transport,
                                           started_at, ended_at)
               SELECT tenant_id, bot_id, id, 'websocket', started_at, ended_at
               FROM conversations WHERE tenant_id = $1 AND channel = 'voice'""",
            tenant_id,
        )
        await conn.execute(
            """INSERT INTO turns (tenant_id, voice_session_id, ordinal, stt_final_ms,
                   llm_first_token_ms, first_clause_ms, tts_first_byte_ms, first_audio_ms,
                   total_ms, created_at)
               SELECT v.tenant_id, v.id, i, 150 + random() * 100, 300 + random() * 300,
                      500 + random() * 300, 600 + random() * 300, 650 + random() * 300,
                      900 + random() * 600, v.started_at + i * interval '20 seconds'
               FROM voice_sessions v, generate_series(0, 4) i WHERE v.tenant_id = $1""",
            tenant_id,
        )
        await conn.execute("ANALYZE")
        counts = await conn.fetchrow(
            """SELECT (SELECT count(*) FROM bots WHERE tenant_id = $1) AS bots,
                      (SELECT count(*) FROM messages WHERE tenant_id = $1) AS messages,
                      (SELECT count(*) FROM turns WHERE tenant_id = $1) AS turns""",
            tenant_id,
        )
        print(f"seeded {dict(counts or {})}")
    finally:
        await conn.close()


async def timed(call: Callable[[], Awaitable[httpx.Response]], n: int) -> list[float]:
    for _ in range(3):  # warm the plan cache and the pool
        (await call()).raise_for_status()
    durations = []
    for _ in range(n):
        started = time.perf_counter()
        response = await call()
        durations.append(time.perf_counter() - started)
        response.raise_for_status()
    return durations


async def run(requests: int) -> Report:
    with tempfile.TemporaryDirectory(prefix="parley-dash-", dir="/tmp") as tmp:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            data_dir=Path(tmp) / "data",
            log_level="WARNING",
            rate_limit_key_per_minute=0,
            rate_limit_tenant_per_minute=0,
        )
        app = create_app(settings)
        async with serve_app(app) as base:
            url = app.state.database.url
            tenant = await create_tenant(url)
            await seed(url, tenant.tenant_id, tenant.bot_id)
            h = tenant.secret_headers
            async with httpx.AsyncClient(base_url=base, timeout=60) as http:
                cases: dict[str, Callable[[], Awaitable[httpx.Response]]] = {
                    "GET /healthz (floor: no auth, no query)": lambda: http.get("/healthz"),
                    "GET /v1/me (auth only)": lambda: http.get("/v1/me", headers=h),
                    "GET /v1/bots (first page, 50)": lambda: http.get("/v1/bots", headers=h),
                    "GET /v1/bots?limit=100 (all)": lambda: http.get(
                        "/v1/bots", headers=h, params={"limit": 100}
                    ),
                    "GET /v1/analytics (30 days, tenant)": lambda: http.get(
                        "/v1/analytics", headers=h
                    ),
                    "GET /v1/analytics?bot_id (one bot)": lambda: http.get(
                        "/v1/analytics", headers=h, params={"bot_id": str(tenant.bot_id)}
                    ),
                    "GET /v1/conversations (first page, 50)": lambda: http.get(
                        "/v1/conversations", headers=h
                    ),
                    "GET /v1/conversations?q=refunds": lambda: http.get(
                        "/v1/conversations", headers=h, params={"q": "refunds"}
                    ),
                }
                results = {}
                for name, call in cases.items():
                    n = requests if "analytics" not in name else max(20, requests // 4)
                    results[name] = summary_ms(await timed(call, n))
                    print(name, results[name])
    return Report(
        name="dashboard",
        title="Dashboard API latency: one tenant with 100 bots and 100,000 messages",
        columns=["request", "n", "p50 ms", "p95 ms", "p99 ms"],
        rows=[[k, v["n"], v["p50_ms"], v["p95_ms"], v["p99_ms"]] for k, v in results.items()],
        data={
            "results": results,
            "bots": BOTS,
            "conversations": CONVERSATIONS,
            "messages": CONVERSATIONS * MESSAGES_PER_CONVERSATION,
        },  # fmt: skip
        notes=[
            "Embedded PostgreSQL 18 + pgvector, app under uvicorn on 127.0.0.1, one client, "
            "sequential requests with a secret key (rate limits off), 3 warm-up requests each.",
            "10,000 conversations (2,000 voice with 10,000 turns) over the last ~28 days.",
            "The /healthz row is the floor of this machine and HTTP stack (shared 2-core box); "
            "the rows above it are what auth and each query add.",
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(run(args.requests)).save()


if __name__ == "__main__":
    main()
