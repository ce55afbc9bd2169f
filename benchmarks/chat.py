"""Text chat: time to first token, Parley's own overhead, and requests per second.

Parley runs as users run it (``python -m voice_server serve``, its own process, embedded
PostgreSQL) with the Groq chat fake as its model, in the vendor fakes' own process
(benchmarks/vendors.py), under the ``zero`` and ``cloud`` latency profiles (cloud: 200 ms to the
first token of every model call, then 250 tokens/s; fixed, no jitter, so that the vendor time can
be subtracted exactly). The tenant's knowledge base is the 24 documents of
``benchmarks/data/rag_eval.json``, uploaded through the real API, so every turn searches a real
index. This process is the client: it drives the real endpoints with a widget (publishable) key
and its Origin — ``POST /v1/bots/{id}/chat`` as SSE and as JSON, and the chat WebSocket — for
each text-chat mode (``PARLEY_RAG_CHAT_MODE``: ``agent``, where the model calls the
``search_knowledge`` tool and then answers, two model calls before the first answer token;
``grounded``, one search then one model call). The fake counts the model calls.

Per request, at the client: time to first token (the first ``delta`` event) and total time.
Server overhead = time to first token − model calls × the profile's time to first token − one
token interval (the fake waits that before each token, the first one too); on the total, the
answer's tokens at the profile's rate are subtracted as well.

Throughput: K concurrent SSE clients for a fixed duration, requests/s, latency percentiles and
errors, per profile (first mode only).

    python -m benchmarks.chat [--profiles zero,cloud] [--modes agent,grounded]
                              [--requests 15] [--clients 10] [--duration 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.harness import parley_process, seed_knowledge, server_environment
from benchmarks.report import Report, percentile
from benchmarks.vendors import Vendors, vendors_process
from tests.fakes.latency import PROFILES, LatencyProfile
from tests.support.postgres import create_database, create_template, test_server, with_database
from tests.support.server import free_port
from tests.support.tenants import TenantKeys, create_tenant

DATA = Path(__file__).resolve().parent / "data" / "rag_eval.json"
TRANSPORTS = ("sse", "json", "ws")
WARM_UPS = 3  # requests per transport before the timed ones


# --- the simulated model ----------------------------------------------------------------------


def chat_latency(profile: LatencyProfile) -> tuple[float, float | None]:
    """The fake's (time to first token in s, tokens/s or None) for a shared profile, as
    benchmarks/harness.py sets it: the profile's mean, no jitter."""
    return profile.llm_first_token.base_s, None if profile.is_zero else profile.llm_tokens_per_s


def token_count(text: str) -> int:
    """How many deltas the fake streams for ``text`` (its word-sized pieces)."""
    return len(re.findall(r"\S+\s*|\s+", text))


def vendor_ms(profile: LatencyProfile, calls: float, answer_tokens: int | None = None) -> float:
    """Model time the client waits for: to the first answer token (``answer_tokens`` None),
    or to the end of an answer of ``answer_tokens`` tokens."""
    first_token_s, rate = chat_latency(profile)
    interval = 1 / rate if rate else 0.0
    tokens = 1 if answer_tokens is None else answer_tokens
    return (calls * first_token_s + tokens * interval) * 1000


async def fake_calls(vendors: Vendors) -> int:
    """How many model calls the chat fake has answered (it runs in another process)."""
    async with httpx.AsyncClient() as client:
        return int((await client.get(vendors.chat_url + "/_fake/stats")).json()["requests"])


# --- the clients ------------------------------------------------------------------------------


class SseParser:
    """Server-Sent Events from lines: ``feed`` returns (event, data) when an event ends."""

    def __init__(self) -> None:
        self._event = "message"
        self._data: list[str] = []

    def feed(self, line: str) -> tuple[str, dict[str, Any]] | None:
        line = line.rstrip("\r\n")
        if not line:
            if not self._data:
                return None
            event = (self._event, json.loads("\n".join(self._data)))
            self._event, self._data = "message", []
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None


@dataclass
class Sample:
    transport: str
    started: float  # perf_counter at the client
    first_token_s: float | None = None
    total_s: float | None = None
    server_first_token_ms: float | None = None
    answer_tokens: int = 0
    tool_calls: int = 0
    citations: int = 0
    error: str | None = None


@dataclass(frozen=True)
class Target:
    base_url: str
    bot_id: str
    key: str
    origin: str
    questions: Sequence[str] = field(default_factory=tuple)

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Parley-Key": self.key, "Origin": self.origin}


def _finish(sample: Sample, done: dict[str, Any]) -> None:
    sample.total_s = time.perf_counter() - sample.started
    sample.answer_tokens = token_count(done.get("text", ""))
    sample.citations = len(done.get("citations") or [])
    sample.server_first_token_ms = (done.get("timings") or {}).get("first_token_ms")


async def ask_sse(client: httpx.AsyncClient, target: Target, question: str) -> Sample:
    sample = Sample("sse", time.perf_counter())
    parser = SseParser()
    try:
        async with client.stream(
            "POST", f"/v1/bots/{target.bot_id}/chat", json={"message": question},
            headers={**target.headers, "Accept": "text/event-stream"},
        ) as response:  # fmt: skip
            if response.status_code != 200:
                await response.aread()
                sample.error = f"HTTP {response.status_code}"
                return sample
            async for line in response.aiter_lines():
                parsed = parser.feed(line)
                if parsed is None:
                    continue
                event, data = parsed
                if event == "delta" and sample.first_token_s is None:
                    sample.first_token_s = time.perf_counter() - sample.started
                elif event == "tool_call":
                    sample.tool_calls += 1
                elif event == "done":
                    _finish(sample, data)
                elif event == "error":
                    sample.error = str(data.get("code"))
            if sample.total_s is None and sample.error is None:
                sample.error = "stream ended without done"
    except httpx.HTTPError as exc:
        sample.error = type(exc).__name__
    return sample


async def ask_json(client: httpx.AsyncClient, target: Target, question: str) -> Sample:
    sample = Sample("json", time.perf_counter())
    try:
        response = await client.post(
            f"/v1/bots/{target.bot_id}/chat", json={"message": question, "stream": False},
            headers=target.headers,
        )  # fmt: skip
    except httpx.HTTPError as exc:
        sample.error = type(exc).__name__
        return sample
    if response.status_code != 200:
        sample.error = f"HTTP {response.status_code}"
        return sample
    body = response.json()
    _finish(sample, body)
    sample.tool_calls = len(body.get("tool_calls") or [])
    return sample


async def ask_ws(target: Target, question: str) -> Sample:
    """One turn on a fresh socket; timed from sending the message (after ``ready``)."""
    import websockets

    url = (
        target.base_url.replace("http://", "ws://")
        + f"/v1/bots/{target.bot_id}/chat/ws?key={target.key}"
    )
    sample = Sample("ws", time.perf_counter())
    try:
        async with websockets.connect(url, additional_headers={"Origin": target.origin}) as ws:
            ready = json.loads(await ws.recv())
            if ready.get("type") != "ready":
                sample.error = str(ready.get("code"))
                return sample
            sample.started = time.perf_counter()
            await ws.send(json.dumps({"type": "message", "text": question}))
            while True:
                event = json.loads(await ws.recv())
                kind = event.get("type")
                if kind == "delta" and sample.first_token_s is None:
                    sample.first_token_s = time.perf_counter() - sample.started
                elif kind == "tool_call":
                    sample.tool_calls += 1
                elif kind == "done":
                    _finish(sample, event)
                    break
                elif kind == "error":
                    sample.error = str(event.get("code"))
                    break
    except (OSError, websockets.exceptions.WebSocketException) as exc:
        sample.error = type(exc).__name__
    return sample


async def ask(client: httpx.AsyncClient, target: Target, transport: str, question: str) -> Sample:
    if transport == "sse":
        return await ask_sse(client, target, question)
    if transport == "json":
        return await ask_json(client, target, question)
    return await ask_ws(target, question)


async def sequential(target: Target, transports: Sequence[str], n: int) -> list[Sample]:
    """``n`` requests one after another on each transport (a few warm-ups first, not kept)."""
    samples: list[Sample] = []
    async with httpx.AsyncClient(base_url=target.base_url, timeout=60) as client:
        for transport in transports:
            for i in range(WARM_UPS):
                await ask(client, target, transport, target.questions[i])
            for i in range(n):
                question = target.questions[i % len(target.questions)]
                samples.append(await ask(client, target, transport, question))
    return samples


async def load(target: Target, clients: int, duration_s: float) -> dict[str, Any]:
    """``clients`` concurrent SSE clients asking one question after another for
    ``duration_s``; a request started before the deadline is waited for."""
    samples: list[Sample] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=target.base_url, timeout=60, limits=limits) as client:
        started = time.perf_counter()
        deadline = started + duration_s

        async def one(index: int) -> None:
            n = index
            while time.perf_counter() < deadline:
                question = target.questions[n % len(target.questions)]
                samples.append(await ask_sse(client, target, question))
                n += clients

        await asyncio.gather(*(one(i) for i in range(clients)))
        elapsed = time.perf_counter() - started
    return {"elapsed_s": elapsed, "samples": [asdict(s) for s in samples]}


# --- figures ----------------------------------------------------------------------------------


def summarise(
    samples: Sequence[dict[str, Any]], profile: LatencyProfile, calls_per_turn: float
) -> dict[str, Any]:
    """TTFT, total and overhead percentiles (ms) of successful requests; errors by kind."""
    ok = [s for s in samples if s["error"] is None and s["total_s"] is not None]
    errors: dict[str, int] = {}
    for s in samples:
        if s["error"] is not None:
            errors[s["error"]] = errors.get(s["error"], 0) + 1
    first = [s["first_token_s"] * 1000 for s in ok if s["first_token_s"] is not None]
    total = [s["total_s"] * 1000 for s in ok]
    before_first = vendor_ms(profile, calls_per_turn)
    overhead = [ms - before_first for ms in first]
    overhead_total = [
        s["total_s"] * 1000 - vendor_ms(profile, calls_per_turn, s["answer_tokens"]) for s in ok
    ]
    server_first = [s["server_first_token_ms"] for s in ok if s["server_first_token_ms"]]

    def pct(values: Sequence[float]) -> dict[str, float]:
        return {f"p{q}_ms": round(percentile(values, q), 1) for q in (50, 95, 99)}

    return {
        "requests": len(samples),
        "ok": len(ok),
        "errors": errors,
        "vendor_before_first_token_ms": round(before_first, 1),
        "ttft": pct(first),
        "total": pct(total),
        "overhead": pct(overhead),
        "overhead_total": pct(overhead_total),
        "server_first_token": pct(server_first),
        "ttft_ms": first,
    }


def calls_per_turn(calls: int, turns: int) -> float:
    """Model calls per chat turn, from the fake's count over a run of ``turns`` turns."""
    return round(calls / turns, 2) if turns else float("nan")


def throughput(result: dict[str, Any]) -> dict[str, Any]:
    samples = result["samples"]
    ok = [s for s in samples if s["error"] is None and s["total_s"] is not None]
    elapsed = result["elapsed_s"]
    return {
        "requests": len(samples),
        "ok": len(ok),
        "failed": len(samples) - len(ok),
        "elapsed_s": round(elapsed, 1),
        "rps": round(len(ok) / elapsed, 1) if elapsed > 0 else float("nan"),
    }


def server_cpu(cpu_s: float, elapsed_s: float, requests: int) -> dict[str, float]:
    """The server process's CPU during a load run: share of one core, and CPU time per
    request — which, unlike requests/s, hardly depends on what else runs on the machine."""
    per_request_ms = cpu_s * 1000 / requests if requests else float("nan")
    return {
        "server_cpu_percent": round(100 * cpu_s / elapsed_s, 1) if elapsed_s else float("nan"),
        "server_cpu_ms_per_request": round(per_request_ms, 1),
        "rps_per_core": round(1000 / per_request_ms, 1) if per_request_ms else float("nan"),
    }


# --- the run ----------------------------------------------------------------------------------


@asynccontextmanager
async def database() -> AsyncIterator[str]:
    with test_server(os.environ.get("DATABASE_URL")) as admin_url:
        template = await create_template(admin_url)
        yield with_database(admin_url, await create_database(admin_url, template=template))


@asynccontextmanager
async def parley(
    database_url: str, vendors: Vendors, data_dir: Path, mode: str
) -> AsyncIterator[tuple[str, int]]:
    """Parley in its own process with the chat fake as its model; (base URL, pid)."""
    port = free_port()
    extra = {
        "PARLEY_RAG_CHAT_MODE": mode,
        # Measure the server, not its abuse limits.
        "PARLEY_RATE_LIMIT_KEY_PER_MINUTE": "0",
        "PARLEY_RATE_LIMIT_IP_PER_MINUTE": "0",
        "PARLEY_RATE_LIMIT_TENANT_PER_MINUTE": "0",
    }
    env = server_environment(database_url, data_dir, port, vendors, extra)
    async with parley_process(env, port) as pid:
        yield f"http://127.0.0.1:{port}", pid


async def measure(
    vendors: Vendors, database_url: str, tenant: TenantKeys, mode: str,
    args: argparse.Namespace, *, upload: bool, with_load: bool,
) -> dict[str, Any]:  # fmt: skip
    import psutil

    profile = PROFILES[vendors.profile]
    questions = [q["q"] for q in json.loads(DATA.read_text())["questions"]]
    with tempfile.TemporaryDirectory(prefix="parley-chat-") as tmp:
        async with parley(database_url, vendors, Path(tmp) / "data", mode) as (url, pid):
            if upload:
                await seed_knowledge(url, tenant.secret_headers)
            target = Target(url, str(tenant.bot_id), tenant.publishable_key, tenant.origin,
                            questions)  # fmt: skip
            before = await fake_calls(vendors)
            # The transports differ in delivery, not in the brain: the other modes use SSE only.
            transports = TRANSPORTS if with_load else ("sse",)
            samples = await sequential(target, transports, args.requests)
            turns = len(samples) + WARM_UPS * len(transports)
            calls = calls_per_turn(await fake_calls(vendors) - before, turns)
            result: dict[str, Any] = {
                "calls_per_turn": calls,
                "sequential": {
                    transport: summarise(
                        [asdict(s) for s in samples if s.transport == transport], profile, calls
                    )
                    for transport in transports
                },
            }
            if with_load:
                server = psutil.Process(pid)
                before_cpu = server.cpu_times()
                run = await load(target, args.clients, args.duration)
                after_cpu = server.cpu_times()
                cpu_s = (after_cpu.user - before_cpu.user) + (after_cpu.system - before_cpu.system)
                figures = summarise(run["samples"], profile, calls) | throughput(run)
                figures |= server_cpu(cpu_s, run["elapsed_s"], figures["ok"])
                figures["server_rss_mb"] = round(server.memory_info().rss / 2**20, 1)
                result["load"] = figures
    return result


async def main_async(args: argparse.Namespace) -> Report:
    profiles = args.profiles.split(",")
    modes = args.modes.split(",")
    data: dict[str, dict[str, Any]] = {}
    load_average = [round(os.getloadavg()[0], 1)]
    async with database() as database_url:
        tenant = await create_tenant(database_url, plan="business")
        uploaded = False
        for name in profiles:
            async with vendors_process(name) as vendors:
                for mode in modes:
                    result = await measure(
                        vendors, database_url, tenant, mode, args,
                        upload=not uploaded, with_load=mode == modes[0],
                    )  # fmt: skip
                    uploaded = True
                    data.setdefault(name, {})[mode] = result
                    brief = {t: {k: s[k] for k in ("ttft", "overhead", "errors")}
                             for t, s in result["sequential"].items()}  # fmt: skip
                    print(f"{name}/{mode}: {result['calls_per_turn']} model calls/turn, {brief}")
                    if "load" in result:
                        load_brief = {k: v for k, v in result["load"].items() if k != "ttft_ms"}
                        print(f"{name}/{mode} load: {load_brief}")
    load_average.append(round(os.getloadavg()[0], 1))
    draw(data)
    return report(data, args, load_average)


def report(
    data: dict[str, dict[str, Any]], args: argparse.Namespace, load_average: Sequence[float]
) -> Report:
    rows = []
    for name, modes in data.items():
        for mode, result in modes.items():
            runs = [(t, 1, s) for t, s in result["sequential"].items()]
            if "load" in result:
                runs.append(("sse", args.clients, result["load"]))
            for transport, clients, s in runs:
                figures = [s["ttft"]["p50_ms"], s["ttft"]["p95_ms"], s["overhead"]["p50_ms"],
                           s["overhead"]["p95_ms"], s["server_first_token"]["p50_ms"],
                           s["total"]["p50_ms"], s["total"]["p95_ms"]]  # fmt: skip
                rows.append([name, mode, result["calls_per_turn"], transport, clients, s["ok"],
                             *(cell(f) for f in figures), s.get("rps", ""),
                             sum(s["errors"].values())])  # fmt: skip
                s.pop("ttft_ms", None)
    notes = [
        "Model calls per turn are counted by the fake. agent: the search_knowledge tool call, "
        "then the answer, both before the first answer token; grounded: one search, one call.",
        "Overhead = time to first token at the client − calls × the profile's time to first "
        "token − one token interval (cloud, 2 calls: 2 × 200 + 4 = 404 ms; zero: 0). For JSON, "
        "where there is no first token, the total is in the total columns. Server TTFT: the "
        "server's own timing of the turn (done.timings.first_token_ms), from the start of the "
        "agent to its first token, without authentication and storing the question.",
        f"Clients 1: {args.requests} requests per transport, one at a time, each a new "
        f"conversation (WebSocket: a fresh socket per turn, timed from the message); JSON and "
        f"WebSocket for the first mode only. Clients {args.clients}: concurrent SSE clients for "
        f"{args.duration:g} s, first mode only.",
        "Parley, the vendor fakes and this client each run in their own process, with the "
        "embedded PostgreSQL, on the same cores. Rate limits off for the run. Machine load "
        f"average (1 min) at the start and the end: {load_average[0]} and {load_average[-1]} "
        "(other work shares these cores: figures are inflated by as much).",
    ]
    for name, modes in data.items():
        for mode, result in modes.items():
            if "load" in result:
                load = result["load"]
                notes.append(
                    f"{name}/{mode} under load: {load['rps']} requests/s with the server process "
                    f"at {load['server_cpu_percent']}% of one core: "
                    f"{load['server_cpu_ms_per_request']} ms of server CPU per request, so about "
                    f"{load['rps_per_core']} requests/s per fully available core (PostgreSQL "
                    f"and the fakes not counted); RSS {load['server_rss_mb']} MB."
                )
    return Report(
        name="chat",
        title="Text chat: time to first token, server overhead and throughput",
        columns=[
            "profile",
            "mode",
            "calls",
            "transport",
            "clients",
            "ok",
            "TTFT p50 ms",
            "TTFT p95 ms",
            "overhead p50 ms",
            "overhead p95 ms",
            "server TTFT p50 ms",
            "total p50 ms",
            "total p95 ms",
            "req/s",
            "errors",
        ],  # fmt: skip
        rows=rows,
        data={"profiles": data, "load_average": list(load_average)},
        notes=notes,
    )


def cell(value: float) -> str | float:
    """A table cell: "n/a" where there is no figure (JSON replies have no first token)."""
    return "n/a" if math.isnan(value) else value


def draw(data: dict[str, dict[str, Any]]) -> None:
    from benchmarks import plots

    series = {}
    for name, modes in data.items():
        for mode, result in modes.items():
            series[f"{name}/{mode}, SSE, 1 client"] = result["sequential"]["sse"]["ttft_ms"]
            if "load" in result:
                series[f"{name}/{mode}, SSE, under load"] = result["load"]["ttft_ms"]
    plots.latency_cdf("chat_cdf", "Text chat: time to first token (client side)", series)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default="zero,cloud")
    parser.add_argument("--modes", default="agent,grounded", help="PARLEY_RAG_CHAT_MODE values")
    parser.add_argument("--requests", type=int, default=15, help="per transport, mode, profile")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load")
    asyncio.run(main_async(parser.parse_args())).save()


if __name__ == "__main__":
    main()
