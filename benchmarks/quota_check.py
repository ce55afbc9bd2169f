"""What the quota check adds to a chat request: p50/p95 of `QuotaService.check` per call.

Runs against the embedded PostgreSQL (or DATABASE_URL) with a tenant that already used part of
its month, and compares with a bare `SELECT 1` round trip on the same pool.

    .venv/bin/python -m benchmarks.quota_check [--calls 2000] [--events 20000]

Prints the figures and saves them to benchmarks/results/quota_check.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

from billing.plans import load_plans
from billing.quota import QuotaService
from voice_server.db.embedded import EmbeddedPostgres
from voice_server.db.migrations import load_migrations, migrate
from voice_server.db.pool import ensure_vector_extension

RESULTS = Path(__file__).parent / "results" / "quota_check.json"


def _percentiles(samples_s: list[float]) -> dict[str, float]:
    ordered = sorted(samples_s)
    cut = statistics.quantiles(ordered, n=100)
    return {
        "p50_ms": round(cut[49] * 1000, 3),
        "p95_ms": round(cut[94] * 1000, 3),
        "p99_ms": round(cut[98] * 1000, 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
    }


async def _time(calls: int, fn: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    for _ in range(min(100, calls)):  # warm the pool, plans and caches
        await fn()
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - start)
    return _percentiles(samples)


async def run(url: str, calls: int, events: int) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        await ensure_vector_extension(conn, url)
        await migrate(conn, load_migrations())
        tenant_id = await conn.fetchval(
            "INSERT INTO tenants (name, slug) VALUES ('Bench', $1) RETURNING id",
            f"bench-{uuid.uuid4().hex[:8]}",
        )
        # A month already well used: `events` messages and as many voice turns.
        await conn.execute(
            """
            INSERT INTO usage_events (tenant_id, kind, quantity, idempotency_key, occurred_at)
            SELECT $1, k.kind, 1, k.kind || ':' || g, now() - (g * 60 || ' seconds')::interval
            FROM generate_series(1, $2) g, (VALUES ('message'), ('voice_seconds')) k(kind)
            """,
            tenant_id,
            events,
        )
        # The hourly counters record_usage keeps, built in bulk here.
        await conn.execute(
            """
            INSERT INTO usage_counters (tenant_id, kind, hour, quantity)
            SELECT tenant_id, kind, date_trunc('hour', occurred_at, 'UTC'), sum(quantity)
            FROM usage_events WHERE tenant_id = $1 GROUP BY 1, 2, 3
            """,
            tenant_id,
        )
        await conn.execute("VACUUM ANALYZE usage_events")
        await conn.execute("VACUUM ANALYZE usage_counters")
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(url, min_size=2, max_size=2)
    assert pool is not None
    catalog = load_plans()
    try:
        metered = QuotaService(pool, catalog, default_plan="business", subscriptions_enabled=True)
        selfhost = QuotaService(
            pool, catalog, default_plan="unlimited", subscriptions_enabled=False
        )

        async def select_one() -> None:
            async with pool.acquire() as c:
                await c.fetchval("SELECT 1")

        figures = {
            "baseline_select_1": await _time(calls, select_one),
            "check_message": await _time(calls, lambda: metered.check(tenant_id, "message")),
            "check_voice_session": await _time(
                calls, lambda: metered.check(tenant_id, "voice_session")
            ),
            "check_message_self_hosted_unlimited": await _time(
                calls, lambda: selfhost.check(tenant_id, "message")
            ),
            "usage_summary": await _time(
                max(calls // 10, 50), lambda: metered.usage_summary(tenant_id)
            ),
        }
    finally:
        await pool.close()
    return {
        "benchmark": "quota_check",
        "calls": calls,
        "usage_events_this_month_per_kind": events,
        "database": "external" if os.environ.get("DATABASE_URL") else "embedded",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "results": figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--events", type=int, default=20000)
    args = parser.parse_args()
    external = os.environ.get("DATABASE_URL")
    if external:
        report = asyncio.run(run(external, args.calls, args.events))
    else:
        with tempfile.TemporaryDirectory(prefix="parley-bench-", dir="/tmp") as tmp:
            embedded = EmbeddedPostgres(Path(tmp) / "pgdata")
            url = embedded.start()
            try:
                report = asyncio.run(run(url, args.calls, args.events))
            finally:
                embedded.stop()
    for name, figures in report["results"].items():
        print(f"{name:40s} p50 {figures['p50_ms']:7.3f} ms   p95 {figures['p95_ms']:7.3f} ms")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"saved {RESULTS}")


if __name__ == "__main__":
    main()
