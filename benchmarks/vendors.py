"""The simulated vendors in a process of their own, so that their work never lands on the event
loop of the server being measured (nor it on theirs).

    python -m benchmarks.vendors --profile cloud     # prints one JSON line of URLs and keys,
                                                     # serves until stdin closes or SIGTERM

    async with vendors_process("cloud") as vendors:
        vendors.groq_audio_url, vendors.deepgram_url, vendors.chat_url, ...

Both the Parley harness and the Pipecat comparison point their clients at the same process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import asdict, dataclass

from tests.fakes.deepgram import deepgram_server
from tests.fakes.groq_audio import groq_audio_server
from tests.fakes.groq_chat import FakeGroq as FakeGroqChat
from tests.fakes.groq_chat import LatencyProfile as ChatLatency
from tests.fakes.latency import CLOUD, ZERO

PROFILES = {"zero": ZERO, "cloud": CLOUD}
# What the fake STT hears, whatever the audio: the benchmarks measure time, not recognition.
HEARD = "what are your opening hours"


@dataclass(frozen=True)
class Vendors:
    profile: str
    groq_audio_url: str
    groq_audio_key: str
    deepgram_url: str
    deepgram_key: str
    chat_url: str
    chat_key: str


@asynccontextmanager
async def serve_vendors(profile_name: str) -> AsyncIterator[Vendors]:
    profile = PROFILES[profile_name]
    chat = FakeGroqChat(
        latency=ChatLatency(
            time_to_first_token_s=profile.llm_first_token.base_s,
            tokens_per_s=None if profile.is_zero else profile.llm_tokens_per_s,
        )
    )
    async with AsyncExitStack() as stack:
        stt = await stack.enter_async_context(groq_audio_server(text=HEARD, latency=profile))
        # A tone, not eSpeak: synthesis would make this process the bottleneck at 200 callers.
        tts = await stack.enter_async_context(deepgram_server(latency=profile, audio="tone"))
        chat_url = await stack.enter_async_context(chat.serve())
        yield Vendors(
            profile=profile_name,
            groq_audio_url=stt.base_url, groq_audio_key=stt.api_key,
            deepgram_url=tts.base_url, deepgram_key=tts.api_key,
            chat_url=chat_url, chat_key=chat.api_key,
        )  # fmt: skip


@asynccontextmanager
async def vendors_process(profile_name: str) -> AsyncIterator[Vendors]:
    """Start ``python -m benchmarks.vendors`` and yield where its fakes listen."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.vendors", "--profile", profile_name,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    assert process.stdin is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        if not line:
            raise RuntimeError("the vendor fakes exited before they were ready")
        yield Vendors(**json.loads(line))
    finally:
        process.stdin.close()  # the child stops when its stdin closes
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def _main(profile_name: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def until_stdin_closes() -> None:
        await reader.read()
        stop.set()

    async with serve_vendors(profile_name) as vendors:
        print(json.dumps(asdict(vendors)), flush=True)
        watcher = asyncio.create_task(until_stdin_closes())
        await stop.wait()
        watcher.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the simulated vendors.")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="zero")
    asyncio.run(_main(parser.parse_args().profile))


if __name__ == "__main__":
    main()
