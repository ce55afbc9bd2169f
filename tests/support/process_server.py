"""`parley serve` as a real child process, for what an in-process server cannot show: kill -9
and a restart, and the memory of the server process alone."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import httpx

from tests.support.server import free_port


@dataclass
class ServerProcess:
    url: str
    process: asyncio.subprocess.Process
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def status_kb(self, field: str) -> int:
        """A memory figure of the server process from /proc (VmRSS, VmHWM = peak RSS), in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise KeyError(field)

    def children(self) -> list[int]:
        """Pids of the server's child processes (its parsing workers)."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.pid:
                    found.append(int(entry))
        return found

    def log_records(self) -> list[dict[str, object]]:
        records = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
        return records

    async def kill_9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()


def _log_file(path: Path) -> BinaryIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("wb")


@asynccontextmanager
async def parley_process(
    database_url: str,
    data_dir: Path,
    settings: Mapping[str, object],
    *,
    name: str = "server",
) -> AsyncIterator[ServerProcess]:
    """Start `python -m voice_server serve` on a free port; stop it (SIGTERM) on exit."""
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("PARLEY_") and k != "DATABASE_URL"
    }
    env.update(
        {
            "PARLEY_DATABASE_URL": database_url,
            "PARLEY_DATA_DIR": str(data_dir),
            "PARLEY_HOST": "127.0.0.1",
            "PARLEY_PORT": str(port),
            "PARLEY_LOG_JSON": "true",
            **{f"PARLEY_{k.upper()}": str(v) for k, v in settings.items()},
        }
    )
    log = data_dir / f"{name}.log"
    with _log_file(log) as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "voice_server", "serve", env=env, stdout=sink, stderr=sink
        )
    server = ServerProcess(f"http://127.0.0.1:{port}", process, log)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=2) as client:
            for _ in range(600):
                if process.returncode is not None:
                    raise RuntimeError(f"the server exited: {log.read_text()[-2000:]}")
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the server did not become ready in 60 s")
        yield server
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(30):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
