"""Where the server's time goes: py-spy samples the server process while the callers run.

    async with sampling(pid) as profile:   # py-spy record --format raw, 100 Hz, non-blocking
        ...                                # the load
    profile.summary()                      # busy share; our functions by inclusive share

Each sample is charged to the innermost frame of Parley's own code on its stack (voice_server,
rag, billing, dashboard_api), so library time (httpx, websockets, LangChain) lands on the part
of Parley that asked for it. Without py-spy installed (`pip install -e '.[bench]'`) the summary
says so and the benchmark goes on.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import sys
import tempfile
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUR_CODE = re.compile(r"\((?:voice_server|rag|billing|dashboard_api)/[^)]*\)$")
_ENTRY = re.compile(r"\(voice_server/(?:cli|__main__)\.py")
_IDLE = ("select (selectors.py", "EpollSelector.select", "poll (selectors.py")


@dataclass
class Profile:
    samples: int = 0
    busy: int = 0
    ours: Counter[str] = field(default_factory=Counter)
    available: bool = True

    def summary(self, top: int = 12) -> dict[str, Any]:
        if not self.available:
            return {"available": False, "note": "py-spy is not installed"}
        busy = max(1, self.busy)
        return {
            "available": True,
            "samples": self.samples,
            "busy_share": round(self.busy / max(1, self.samples), 3),
            # Share of busy samples with this function of ours innermost on the stack.
            "ours_innermost": {name: round(n / busy, 3) for name, n in self.ours.most_common(top)},
        }


def parse_raw(text: str) -> Profile:
    """py-spy's raw (collapsed) format: ``frame;frame;...;leaf count`` per line."""
    profile = Profile()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        profile.samples += n
        if frames[-1].startswith(_IDLE):
            continue
        profile.busy += n
        mine = next((f for f in reversed(frames) if _ours(f)), None)
        profile.ours[
            _function(mine) if mine else "(event loop and libraries, below no Parley function)"
        ] += n
    return profile


def _ours(frame: str) -> bool:
    # The CLI's frame is under every sample: the loop's own work is not charged to it.
    return bool(OUR_CODE.search(frame)) and not _ENTRY.search(frame)


def _function(frame: str) -> str:
    """``VoiceSession._speak (voice_server/voice/session.py:429)`` -> its name and file."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})"


@asynccontextmanager
async def sampling(pid: int, rate: int = 100) -> AsyncIterator[Profile]:
    """Sample ``pid`` until the block ends; the yielded profile is filled in on exit."""
    profile = Profile()
    beside = Path(sys.executable).parent / "py-spy"  # installed in this virtualenv
    spy = str(beside) if beside.exists() else shutil.which("py-spy")
    if spy is None:
        profile.available = False
        yield profile
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "profile.txt"
        process = await asyncio.create_subprocess_exec(
            spy, "record", "--pid", str(pid), "--format", "raw", "--output", str(out),
            "--rate", str(rate), "--nonblocking",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            yield profile
        finally:
            process.send_signal(signal.SIGINT)  # py-spy writes what it has and exits
            await process.wait()
            if out.exists():
                parsed = parse_raw(out.read_text())
                profile.samples, profile.busy, profile.ours = (
                    parsed.samples,
                    parsed.busy,
                    parsed.ours,
                )
