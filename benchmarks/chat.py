"""Text chat: time to first token, Parley's own overhead, and requests per second.

Parley runs in this process (the whole app under uvicorn, embedded PostgreSQL) with the Groq
chat fake as its model, in a process of its own, under the ``zero`` and ``cloud`` latency
profiles (cloud: 200 ms to the first token of every model call, then 250 tokens/s; fixed, no
jitter, so that the vendor time can be subtracted exactly). The tenant's knowledge base is the
24 documents of ``benchmarks/data/rag_eval.json``, uploaded through the real API, so the agent's
``search_knowledge`` tool searches a real index. Clients run in a third process and drive the
real endpoints with a widget (publishable) key and its Origin: ``POST /v1/bots/{id}/chat`` as
SSE and as JSON, and the chat WebSocket.

Per request, at the client: time to first token (the first ``delta`` event), total time.
The fake's agent-like script calls the model twice before the first answer token (a
``search_knowledge`` tool call, then the answer, as a tool-using model does); the fake counts
the calls. Server overhead = time to first token − model calls × the profile's time to first
token − one token interval (the fake waits that before each token, the first one too); on the
total, the answer's tokens at the profile's rate are subtracted as well.

Throughput: K concurrent SSE clients for a fixed duration, requests/s, latency percentiles and
errors, under each profile.

    python -m benchmarks.chat [--profiles zero,cloud] [--requests 30] [--clients 10]
                              [--duration 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.report import Report, percentile
from tests.fakes.latency import PROFILES, LatencyProfile

DATA = Path(__file__).resolve().parent / "data" / "rag_eval.json"
TRANSPORTS = ("sse", "json", "ws")


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


async def serve_fake(profile_name: str) -> None:
    """The fake's process: print its URL and key as one JSON line, serve until stdin closes."""
    from tests.fakes.groq_chat import FakeGroq
    from tests.fakes.groq_chat import LatencyProfile as ChatLatency

    first_token_s, rate = chat_latency(PROFILES[profile_name])
    fake = FakeGroq(latency=ChatLatency(time_to_first_token_s=first_token_s, tokens_per_s=rate))
    async with fake.serve() as url:
        print(json.dumps({"url": url, "api_key": fake.api_key}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


@dataclass
class FakeProcess:
    url: str
    api_key: str

    async def calls(self) -> int:
        async with httpx.AsyncClient() as client:
            return int((await client.get(self.url + "/_fake/stats")).json()["requests"])


@asynccontextmanager
async def fake_process(profile_name: str) -> AsyncIterator[FakeProcess]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.chat", "--role", "fake", "--profile", profile_name,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    assert process.stdin is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        if not line:
            raise RuntimeError("the chat fake's process did not start")
        info = json.loads(line)
        yield FakeProcess(url=info["url"], api_key=info["api_key"])
    finally:
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


# --- the clients (a process of their own) -----------------------------------------------------


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
            for i in range(3):
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


async def run_clients(config: dict[str, Any]) -> dict[str, Any]:
    target = Target(**config["target"])
    if config["phase"] == "sequential":
        samples = await sequential(target, config["transports"], config["requests"])
        return {"samples": [asdict(s) for s in samples]}
    return await load(target, config["clients"], config["duration_s"])


async def clients_process(config: dict[str, Any]) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.chat", "--role", "clients", "--config",
        json.dumps(config), stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the clients' process failed ({process.returncode})")
    result: dict[str, Any] = json.loads(out)
    return result


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
        "errors": len(samples) - len(ok),
        "elapsed_s": round(elapsed, 1),
        "rps": round(len(ok) / elapsed, 1) if elapsed > 0 else float("nan"),
    }


# --- the run ----------------------------------------------------------------------------------


@asynccontextmanager
async def database() -> AsyncIterator[str]:
    from tests.support.postgres import create_database, create_template, test_server, with_database

    with test_server(os.environ.get("DATABASE_URL")) as admin_url:
        template = await create_template(admin_url)
        yield with_database(admin_url, await create_database(admin_url, template=template))


@asynccontextmanager
async def parley(database_url: str, fake: FakeProcess, data_dir: Path) -> AsyncIterator[str]:
    from tests.support.server import serve_app
    from voice_server.app import create_app
    from voice_server.settings import Settings

    values: dict[str, object] = {
        "data_dir": data_dir, "database_url": database_url, "log_level": "WARNING",
        "db_pool_max": 40, "billing_default_plan": "unlimited",
        "llm_provider": "groq", "llm_api_key": fake.api_key, "llm_base_url": fake.url,
        # Measure the server, not its abuse limits.
        "rate_limit_key_per_minute": 0, "rate_limit_ip_per_minute": 0,
        "rate_limit_tenant_per_minute": 0,
    }  # fmt: skip
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    async with serve_app(create_app(settings)) as url:
        yield url


async def upload_knowledge(base_url: str, secret_key: str) -> int:
    """The rag_eval documents through ``POST /v1/documents``; waits until all are ready."""
    from benchmarks.rag_eval import render

    documents = json.loads(DATA.read_text())["documents"]
    extension = {"md": "md", "html": "html", "docx": "docx"}
    headers = {"Authorization": f"Bearer {secret_key}"}
    ids = []
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
        for doc in documents:
            name = f"{doc['key']}.{extension.get(doc['format'], 'pdf')}"
            response = await client.post(
                "/v1/documents", files={"file": (name, render(doc), "application/octet-stream")}
            )
            response.raise_for_status()
            ids.append(response.json()["id"])
        for doc_id in ids:
            for _ in range(1200):
                status = (await client.get(f"/v1/documents/{doc_id}")).json()["status"]
                if status in ("ready", "failed"):
                    break
                await asyncio.sleep(0.05)
            if status != "ready":
                raise RuntimeError(f"document {doc_id} is {status}")
    return len(ids)


async def measure_profile(
    name: str, database_url: str, tenant: Any, args: argparse.Namespace, first: bool
) -> dict[str, Any]:
    import psutil

    profile = PROFILES[name]
    questions = [q["q"] for q in json.loads(DATA.read_text())["questions"]]
    me = psutil.Process(os.getpid())
    async with AsyncExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="parley-chat-")))
        fake = await stack.enter_async_context(fake_process(name))
        url = await stack.enter_async_context(parley(database_url, fake, tmp / "data"))
        if first:
            await upload_knowledge(url, tenant.secret_key)
        target = {"base_url": url, "bot_id": str(tenant.bot_id), "key": tenant.publishable_key,
                  "origin": tenant.origin, "questions": questions}  # fmt: skip
        before = await fake.calls()
        sequential_run = await clients_process(
            {
                "phase": "sequential",
                "target": target,
                "transports": list(TRANSPORTS),
                "requests": args.requests,
            }  # fmt: skip
        )
        turns = len(sequential_run["samples"]) + 3 * len(TRANSPORTS)  # with the warm-ups
        calls = calls_per_turn(await fake.calls() - before, turns)
        by_transport = {
            transport: summarise(
                [s for s in sequential_run["samples"] if s["transport"] == transport],
                profile, calls,
            )
            for transport in TRANSPORTS
        }  # fmt: skip
        me.cpu_percent(None)
        load_run = await clients_process(
            {
                "phase": "load",
                "target": target,
                "clients": args.clients,
                "duration_s": args.duration,
            }  # fmt: skip
        )
        cpu = me.cpu_percent(None)
    load_summary = summarise(load_run["samples"], profile, calls) | throughput(load_run)
    load_summary["server_cpu_percent"] = round(cpu, 1)
    return {"calls_per_turn": calls, "sequential": by_transport, "load": load_summary}


async def main_async(args: argparse.Namespace) -> Report:
    from tests.support.tenants import create_tenant

    names = args.profiles.split(",")
    data: dict[str, Any] = {}
    async with database() as database_url:
        tenant = await create_tenant(database_url, plan="business")
        for i, name in enumerate(names):
            data[name] = await measure_profile(name, database_url, tenant, args, first=i == 0)
            brief = {k: v for k, v in data[name]["load"].items() if k != "ttft_ms"}
            print(f"{name}: {data[name]['calls_per_turn']} calls/turn, load {brief}")
    draw(data)
    return report(data, args)


def report(data: dict[str, Any], args: argparse.Namespace) -> Report:
    rows = []
    for name, result in data.items():
        for transport, s in result["sequential"].items():
            rows.append([name, transport, 1, s["ok"], s["ttft"]["p50_ms"], s["ttft"]["p95_ms"],
                         s["overhead"]["p50_ms"], s["overhead"]["p95_ms"], s["total"]["p50_ms"],
                         s["total"]["p95_ms"], "", sum(s["errors"].values())])  # fmt: skip
        s = result["load"]
        rows.append([name, "sse", args.clients, s["ok"], s["ttft"]["p50_ms"], s["ttft"]["p95_ms"],
                     s["overhead"]["p50_ms"], s["overhead"]["p95_ms"], s["total"]["p50_ms"],
                     s["total"]["p95_ms"], s["rps"], s["errors"]])  # fmt: skip
    for result in data.values():
        for s in [*result["sequential"].values(), result["load"]]:
            s.pop("ttft_ms", None)
    first = next(iter(data.values()))
    notes = [
        f"Model calls per chat turn (counted by the fake): {first['calls_per_turn']} — the "
        "search_knowledge tool call, then the answer; both come before the first answer token.",
        "Overhead = time to first token at the client − calls × the profile's time to first "
        "token − one token interval (cloud: 2 × 200 ms + 4 ms = 404 ms; zero: 0). For JSON, "
        "where there is no first token, only total time counts.",
        f"Sequential rows: {args.requests} requests per transport, one at a time, each a new "
        f"conversation (WebSocket: a fresh socket per turn, timed from the message). Load "
        f"rows: {args.clients} concurrent SSE clients for {args.duration:g} s.",
        "The chat fake runs in a process of its own; the clients in another; Parley and the "
        "embedded PostgreSQL share the 2 cores with both. Rate limits off for the run.",
    ]
    for name, result in data.items():
        load = result["load"]
        notes.append(f"{name}: server CPU during the load run {load['server_cpu_percent']}% "
                     f"(of one core); {load['rps']} requests/s.")  # fmt: skip
    return Report(
        name="chat",
        title="Text chat: time to first token, server overhead and throughput",
        columns=[
            "profile",
            "transport",
            "clients",
            "ok",
            "TTFT p50 ms",
            "TTFT p95 ms",
            "overhead p50 ms",
            "overhead p95 ms",
            "total p50 ms",
            "total p95 ms",
            "req/s",
            "errors",
        ],  # fmt: skip
        rows=rows,
        data={"profiles": data},
        notes=notes,
    )


def draw(data: dict[str, Any]) -> None:
    from benchmarks import plots

    series = {}
    for name, result in data.items():
        series[f"{name}, SSE, 1 client"] = result["sequential"]["sse"]["ttft_ms"]
        series[f"{name}, SSE, under load"] = result["load"]["ttft_ms"]
    plots.latency_cdf("chat_cdf", "Text chat: time to first token (client side)", series)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default="zero,cloud")
    parser.add_argument("--requests", type=int, default=30, help="per transport and profile")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of load")
    parser.add_argument("--role", choices=["bench", "fake", "clients"], default="bench",
                        help=argparse.SUPPRESS)  # fmt: skip
    parser.add_argument("--profile", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "fake":
        asyncio.run(serve_fake(args.profile))
    elif args.role == "clients":
        print(json.dumps(asyncio.run(run_clients(json.loads(args.config)))))
    else:
        asyncio.run(main_async(args)).save()


if __name__ == "__main__":
    main()
