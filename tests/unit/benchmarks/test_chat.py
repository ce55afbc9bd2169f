"""The chat benchmark's deterministic parts: SSE parsing, vendor time, figures."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

import httpx
import pytest

from benchmarks.chat import (
    SseParser,
    calls_per_turn,
    report,
    server_cpu,
    summarise,
    throughput,
    token_count,
    vendor_ms,
)
from tests.fakes.groq_chat import FakeGroq, Text
from tests.fakes.latency import CLOUD, ZERO


def test_sse_events_are_assembled_from_lines() -> None:
    parser = SseParser()
    lines = [": keep-alive", "event: conversation", 'data: {"conversation_id": "c1"}', "",
             "event: delta", 'data: {"text":', 'data: " hi"}', "",
             "", 'data: {"x": 1}', ""]  # fmt: skip
    events = [e for line in lines if (e := parser.feed(line + "\n")) is not None]
    assert events == [
        ("conversation", {"conversation_id": "c1"}),
        ("delta", {"text": " hi"}),  # two data lines joined by a newline
        ("message", {"x": 1}),  # no event name: the default
    ]


def test_vendor_time_before_the_first_token_counts_every_model_call() -> None:
    # cloud: 200 ms to each call's first token, then 250 tokens/s (4 ms before each token).
    assert vendor_ms(CLOUD, 2) == pytest.approx(404.0)
    assert vendor_ms(CLOUD, 1) == pytest.approx(204.0)
    assert vendor_ms(CLOUD, 2, answer_tokens=50) == pytest.approx(600.0)
    assert vendor_ms(ZERO, 2) == 0.0
    assert vendor_ms(ZERO, 2, answer_tokens=50) == 0.0


def test_calls_per_turn() -> None:
    assert calls_per_turn(186, 93) == 2.0
    assert math.isnan(calls_per_turn(0, 0))


async def test_token_count_is_the_number_of_deltas_the_fake_streams() -> None:
    text = "According to the documents:  refunds take 30 days. [1]"
    fake = FakeGroq(script=[Text(text)])
    async with fake.serve() as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.post(
            "/openai/v1/chat/completions",
            json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "q"}]},
            headers={"Authorization": f"Bearer {fake.api_key}"},
        )
        stats = (await client.get("/_fake/stats")).json()
    deltas = [
        json.loads(line[6:])["choices"][0]["delta"].get("content")
        for line in response.text.splitlines()
        if line.startswith("data: {")
    ]
    assert token_count(text) == len([d for d in deltas if d])
    assert stats == {"requests": 1, "cancelled": 0}


def sample(
    first: float | None, total: float | None, *, tokens: int = 10, error: str | None = None
) -> dict[str, Any]:
    return {"transport": "sse", "started": 0.0, "first_token_s": first, "total_s": total,
            "server_first_token_ms": 380.0, "answer_tokens": tokens, "tool_calls": 1,
            "citations": 1, "error": error}  # fmt: skip


def test_overhead_is_what_the_client_waited_beyond_the_model() -> None:
    samples = [sample(0.414, 0.460), sample(0.424, 0.470), sample(0.434, 0.480),
               sample(None, None, error="HTTP 503"), sample(None, None, error="HTTP 503"),
               sample(None, None, error="ReadTimeout")]  # fmt: skip
    figures = summarise(samples, CLOUD, calls_per_turn=2.0)
    assert figures["ok"] == 3
    assert figures["errors"] == {"HTTP 503": 2, "ReadTimeout": 1}
    assert figures["vendor_before_first_token_ms"] == 404.0
    assert figures["ttft"]["p50_ms"] == 424.0
    assert figures["overhead"]["p50_ms"] == 20.0  # 424 - 2 x 200 - 4
    # total 470 ms - (2 x 200 ms + 10 tokens x 4 ms)
    assert figures["overhead_total"]["p50_ms"] == 30.0


def test_throughput_counts_only_successful_requests() -> None:
    failed = sample(None, None, error="HTTP 500")
    result = {"elapsed_s": 10.0, "samples": [sample(0.1, 0.2)] * 45 + [failed] * 5}
    assert throughput(result) == {"requests": 50, "ok": 45, "failed": 5, "elapsed_s": 10.0,
                                  "rps": 4.5}  # fmt: skip


def test_server_cpu_per_request_does_not_depend_on_the_share_of_the_machine() -> None:
    # 2.4 s of CPU over 10 s for 30 requests: 80 ms each, 12.5 requests/s on a whole core.
    assert server_cpu(2.4, 10.0, 30) == {
        "server_cpu_percent": 24.0,
        "server_cpu_ms_per_request": 80.0,
        "rps_per_core": 12.5,
    }
    assert math.isnan(server_cpu(1.0, 10.0, 0)["rps_per_core"])


def test_the_table_has_a_cell_for_every_column_and_no_nan() -> None:
    ok = [sample(0.414 + i / 1000, 0.5) for i in range(10)]
    sequential = {t: summarise(ok, CLOUD, 2.0) for t in ("sse", "json", "ws")}
    sequential["json"] = summarise([{**s, "first_token_s": None} for s in ok], CLOUD, 2.0)
    load_run = {"elapsed_s": 5.0, "samples": ok}
    load_figures = summarise(ok, CLOUD, 2.0) | throughput(load_run) | server_cpu(0.5, 5.0, 10)
    load_figures["server_rss_mb"] = 150.0
    data = {"cloud": {"agent": {"calls_per_turn": 2.0, "sequential": sequential,
                                "load": load_figures}}}  # fmt: skip
    args = argparse.Namespace(requests=10, clients=4, duration=5.0)
    table = report(data, args, [1.0, 1.2])
    assert len(table.rows) == 4
    for row in table.rows:
        assert len(row) == len(table.columns)
    json_row = next(r for r in table.rows if r[3] == "json")
    assert json_row[table.columns.index("TTFT p50 ms")] == "n/a"
    load_row = table.rows[-1]
    assert load_row[table.columns.index("req/s")] == 2.0
    assert "nan" not in table.markdown()
