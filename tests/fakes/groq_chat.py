"""A local fake of Groq's OpenAI-compatible chat completions API.

Speaks ``POST /openai/v1/chat/completions`` (Groq's path; ``/v1/chat/completions`` too, for
OpenAI-compatible clients) with and without ``stream``: SSE ``chat.completion.chunk`` events
with content deltas *and* tool-call deltas, Groq's ``x_groq.usage`` on the last chunk, and the
errors a client must survive (401, 429 with Retry-After, 500, a stall past the client's
timeout, a stream cut mid-way). Replies come from a script; with nothing scripted it behaves
like a small tool-using model: it calls ``search_knowledge`` with the user's question, then
answers with the first passage the tool returned and cites it as [1].

    fake = FakeGroq(script=[ToolCalls([("search_knowledge", {"query": "refunds"})]),
                            Text("Refunds take 30 days [1].")])
    async with fake.serve() as base_url:   # ChatGroq(base_url=base_url, api_key=fake.api_key)
        ...
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar, Request, Response, get, post
from litestar.response import Stream

from tests.support.server import serve_app


@dataclass(frozen=True)
class LatencyProfile:
    """How fast the fake model answers: delay before the first token, then a token rate."""

    time_to_first_token_s: float = 0.0
    tokens_per_s: float | None = None  # None: as fast as possible


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class ToolCalls:
    calls: Sequence[tuple[str, dict[str, Any]]]
    text: str = ""  # content streamed before the calls, as some models do


@dataclass(frozen=True)
class Fail:
    status: int  # 401, 429, 500, ...
    message: str = "fake failure"
    retry_after_s: int = 1


@dataclass(frozen=True)
class Cut:
    """Stream part of ``text``, then drop the connection without finishing the response."""

    text: str
    after_tokens: int = 3


@dataclass(frozen=True)
class Stall:
    """Wait this long before answering at all (longer than the client's timeout)."""

    seconds: float


Step = Text | ToolCalls | Fail | Cut | Stall


def _first_token_delay(profile: Any) -> float:
    # The shared profile of tests/fakes/latency.py (with jitter) or this module's own.
    if hasattr(profile, "llm_first_token_delay"):
        return float(profile.llm_first_token_delay())
    return float(getattr(profile, "time_to_first_token_s", 0.0) or 0.0)


def _token_delay(profile: Any) -> float:
    if hasattr(profile, "llm_token_delay"):
        return float(profile.llm_token_delay())
    rate = getattr(profile, "tokens_per_s", None)
    return 1 / rate if rate else 0.0


@dataclass
class FakeGroq:
    script: list[Step] = field(default_factory=list)
    latency: Any = field(default_factory=LatencyProfile)
    api_key: str = "gsk_test_key"
    model: str = "llama-3.3-70b-versatile"
    requests: list[dict[str, Any]] = field(default_factory=list)
    cancelled: int = 0  # streams the client abandoned before the end

    def app(self) -> Litestar:
        @post(["/openai/v1/chat/completions", "/v1/chat/completions"], status_code=200)
        async def completions(request: Request[Any, Any, Any]) -> Response[Any] | Stream:
            return await self._handle(request)

        @get("/_fake/stats")
        async def stats() -> dict[str, int]:
            # For a benchmark running this fake in another process: how many model calls.
            return {"requests": len(self.requests), "cancelled": self.cancelled}

        return Litestar(route_handlers=[completions, stats], debug=False, logging_config=None)

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        async with serve_app(self.app()) as url:
            yield url

    # --- the protocol ---------------------------------------------------------------------

    async def _handle(self, request: Request[Any, Any, Any]) -> Response[Any] | Stream:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Invalid API Key", "invalid_api_key")
        body = await request.json()
        self.requests.append(body)
        step = self.script.pop(0) if self.script else self._auto(body)
        if isinstance(step, Stall):
            await asyncio.sleep(step.seconds)
            step = Text("too late")
        if isinstance(step, Fail):
            headers = {"retry-after": str(step.retry_after_s)} if step.status == 429 else None
            code = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(step.status)
            return _error(step.status, step.message, code, headers=headers)
        prompt_tokens = sum(len(str(m.get("content") or "")) for m in body["messages"]) // 4
        if body.get("stream"):
            return Stream(
                self._stream(step, body.get("model", self.model), prompt_tokens),
                media_type="text/event-stream",
                headers={"cache-control": "no-cache"},
            )
        return Response(self._complete(step, body.get("model", self.model), prompt_tokens))

    def _auto(self, body: dict[str, Any]) -> Step:
        messages = body["messages"]
        last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
        tool_results = [m for m in messages[last_user:] if m["role"] == "tool"]
        tools = [t["function"]["name"] for t in body.get("tools") or []]
        if "search_knowledge" in tools and not tool_results:
            return ToolCalls([("search_knowledge", {"query": messages[last_user]["content"]})])
        if tool_results:
            passage = _first_passage(str(tool_results[-1]["content"]))
            if passage:
                return Text(f"According to the documents: {passage} [1]")
            return Text(_not_found(messages))
        grounded = _documents_in_prompt(messages)  # rag.grounded puts passages in the prompt
        if grounded is not None:
            passage = _first_passage(grounded)
            if passage:
                return Text(f"According to the documents: {passage} [1]")
            return Text(_not_found(messages))
        return Text(f"You said: {messages[last_user]['content']}")

    async def _stream(self, step: Step, model: str, prompt_tokens: int) -> AsyncIterator[bytes]:
        ident = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        created = int(time.time())
        completed = False

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
            payload = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
                "x_groq": {"id": f"req_{ident}", **extra},
            }
            return f"data: {json.dumps(payload)}\n\n".encode()

        try:
            if (ttft := _first_token_delay(self.latency)) > 0:
                await asyncio.sleep(ttft)
            yield chunk({"role": "assistant", "content": ""})
            text = step.text if isinstance(step, Text | ToolCalls | Cut) else ""
            tokens = _tokens(text)
            for n, token in enumerate(tokens):
                if isinstance(step, Cut) and n >= step.after_tokens:
                    raise ConnectionAbortedError("fake stream cut")
                if (delay := _token_delay(self.latency)) > 0:
                    await asyncio.sleep(delay)
                yield chunk({"content": token})
            if isinstance(step, Cut):
                raise ConnectionAbortedError("fake stream cut")
            out_tokens = len(tokens)
            finish = "stop"
            if isinstance(step, ToolCalls):
                finish = "tool_calls"
                for index, (name, arguments) in enumerate(step.calls):
                    call_id = f"call_{uuid.uuid4().hex[:8]}"
                    head = {"index": index, "id": call_id, "type": "function",
                            "function": {"name": name, "arguments": ""}}  # fmt: skip
                    yield chunk({"tool_calls": [head]})
                    encoded = json.dumps(arguments)
                    for start in range(0, len(encoded), 12):  # arguments arrive in pieces
                        piece = encoded[start : start + 12]
                        delta = {"index": index, "function": {"arguments": piece}}
                        yield chunk({"tool_calls": [delta]})
                        out_tokens += 1
            usage = {
                "queue_time": 0.001,
                "prompt_tokens": prompt_tokens,
                "prompt_time": 0.002,
                "completion_tokens": out_tokens,
                "completion_time": 0.01,
                "total_tokens": prompt_tokens + out_tokens,
                "total_time": 0.012,
            }
            yield chunk({}, finish, usage=usage)
            yield b"data: [DONE]\n\n"
            completed = True
        finally:
            if not completed:
                self.cancelled += 1

    def _complete(self, step: Step, model: str, prompt_tokens: int) -> dict[str, Any]:
        text = step.text if isinstance(step, Text | ToolCalls) else ""
        message: dict[str, Any] = {"role": "assistant", "content": text}
        finish = "stop"
        if isinstance(step, ToolCalls):
            finish = "tool_calls"
            message["tool_calls"] = [
                {"id": f"call_{uuid.uuid4().hex[:8]}", "type": "function",
                 "function": {"name": name, "arguments": json.dumps(arguments)}}
                for name, arguments in step.calls
            ]  # fmt: skip
        completion_tokens = len(_tokens(text)) + 5 * len(message.get("tool_calls", []))
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


def _tokens(text: str) -> list[str]:
    """Word-sized pieces with their trailing spaces, roughly like real token deltas."""
    return re.findall(r"\S+\s*|\s+", text)


def _not_found(messages: list[dict[str, Any]]) -> str:
    """A model that follows rag.verdict's instruction marks a reply that does not answer."""
    system = "\n".join(str(m.get("content") or "") for m in messages if m["role"] == "system")
    marker = re.search(r"put (\[\[[a-z-]+\]\]) at the very start", system)
    prefix = f"{marker.group(1)} " if marker else ""
    return f"{prefix}I could not find that in the documents."


def _documents_in_prompt(messages: list[dict[str, Any]]) -> str | None:
    system = "\n".join(str(m.get("content") or "") for m in messages if m["role"] == "system")
    start = system.rfind("<documents>\n")  # the block itself, not the rules that name it
    return system[start:] if start >= 0 else None


def _first_passage(tool_output: str) -> str:
    """The first passage's text in the tool output of ``rag.agent`` ("[1] title ... ")."""
    match = re.search(r"\[1\][^\n]*\n(.+?)(?:\n\[2\]|\n</documents>|$)", tool_output, re.S)
    if not match:
        return ""
    return " ".join(match.group(1).split())[:400]


def _error(
    status: int, message: str, code: str | None, headers: dict[str, str] | None = None
) -> Response[Any]:
    kind = "invalid_request_error" if status < 500 else "internal_server_error"
    return Response(
        {"error": {"message": message, "type": kind, "code": code}},
        status_code=status,
        headers=headers,
    )
