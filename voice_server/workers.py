"""`parley serve --workers N`: N server processes on one port, each with its own event loop.

The parent owns what must exist once: the database (the embedded PostgreSQL, when no URL is
set, is started here and shared through its URL), the migrations (applied once, here), and the
Prometheus multiprocess directory (every worker writes its metrics there; any worker's
/metrics reads them all). Each worker is ``python -m voice_server serve --ready-fd FD``: it binds
the port with SO_REUSEPORT (voice_server.server), so the kernel spreads connections across them,
and writes one byte to FD once it serves. Workers start one after another (each start also
closes its own leftover sessions and may seed the demo; serialising avoids racing on those).

SIGTERM or SIGINT to the parent is forwarded to every worker, which drains (voice_server.drain);
the parent waits up to ``PARLEY_SHUTDOWN_TIMEOUT_S`` plus a margin, then kills what is left and
stops the database. A worker that exits on its own stops the whole group with a non-zero status:
the supervisor above (systemd, Kubernetes) restarts it, so no half-sized server runs unnoticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
from pathlib import Path

from voice_server.db import open_database
from voice_server.db.migrations import load_migrations, migrate
from voice_server.settings import Settings

_log = logging.getLogger("parley.workers")

# One thread per process for numpy's BLAS: its idle threads otherwise spin and double the CPU
# of model calls once several workers share the cores (ONNX is pinned in rag's sessions).
THREAD_PINS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
START_TIMEOUT_S = 120.0
KILL_MARGIN_S = 5.0
EXIT_WORKER_FAILED = 4


class WorkerFailed(Exception):
    """A worker exited before it served, or did not serve in time."""


def metrics_dir(settings: Settings) -> Path:
    return settings.data_dir / "run" / "metrics"


def worker_env(settings: Settings, database_url: str, index: int) -> dict[str, str]:
    base = settings.instance_id or f"{socket.gethostname()}:{settings.port}"
    env = dict(os.environ)
    env.update(THREAD_PINS)
    env.update(
        {
            "PARLEY_DATABASE_URL": database_url,
            "PARLEY_MIGRATE_ON_START": "false",  # the parent applied them, once
            # Stable per worker slot, distinct per worker: a restarted worker closes only the
            # sessions its own previous run left open (voice_server.voice.liveness).
            "PARLEY_INSTANCE_ID": f"{base}/w{index}",
            "PARLEY_HOST": settings.host,
            "PARLEY_PORT": str(settings.port),
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir(settings)),
        }
    )
    if settings.demo is not None:
        env["PARLEY_DEMO"] = "true" if settings.demo else "false"
    return env


async def _start_worker(
    settings: Settings, database_url: str, index: int
) -> asyncio.subprocess.Process:
    read_fd, write_fd = os.pipe()
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "voice_server", "serve", "--ready-fd", str(write_fd),
            env=worker_env(settings, database_url, index), pass_fds=(write_fd,),
        )  # fmt: skip
    finally:
        os.close(write_fd)
    try:
        await _wait_ready(process, read_fd)
    except BaseException:
        await _stop([process], KILL_MARGIN_S)
        raise
    finally:
        os.close(read_fd)
    _log.info("worker serving", extra={"worker": index, "pid": process.pid})
    return process


async def _wait_ready(process: asyncio.subprocess.Process, read_fd: int) -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[bytes] = loop.create_future()

    def readable() -> None:
        if not ready.done():
            ready.set_result(os.read(read_fd, 1))  # b"" when the worker died first

    loop.add_reader(read_fd, readable)
    exited = asyncio.create_task(process.wait())
    try:
        done, _ = await asyncio.wait(
            (ready, exited), timeout=START_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        loop.remove_reader(read_fd)
        exited.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await exited
    if ready in done and ready.result() == b"r":
        return
    if not done:
        raise WorkerFailed(f"worker {process.pid} did not serve within {START_TIMEOUT_S:.0f} s")
    raise WorkerFailed(f"worker {process.pid} exited before it served")


async def _stop(processes: list[asyncio.subprocess.Process], timeout_s: float) -> None:
    """SIGTERM (each worker drains), then SIGKILL whatever outlives ``timeout_s``."""
    living = [p for p in processes if p.returncode is None]
    for process in living:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
    waits = [asyncio.create_task(p.wait()) for p in living]
    if not waits:
        return
    _, pending = await asyncio.wait(waits, timeout=timeout_s)
    if pending:
        for process in living:
            if process.returncode is None:
                _log.error("worker %s outlived the shutdown timeout: killed", process.pid)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        await asyncio.wait(waits)


async def supervise(settings: Settings, workers: int) -> int:
    """Run ``workers`` worker processes until SIGTERM/SIGINT or until one of them exits."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    shared = metrics_dir(settings)
    shutil.rmtree(shared, ignore_errors=True)  # the previous run's counters are not ours
    shared.mkdir(parents=True)
    processes: list[asyncio.subprocess.Process] = []
    status = 0
    async with open_database(settings) as database:
        if settings.migrate_on_start:
            async with database.pool.acquire() as conn:
                applied = await migrate(conn, load_migrations())
            if applied:
                _log.info("migrations applied: %s", ", ".join(m.label for m in applied))
        try:
            for index in range(workers):
                if stop.is_set():
                    break
                processes.append(await _start_worker(settings, database.url, index))
            _log.info("parley serving", extra={"workers": len(processes), "port": settings.port})
            stopping = asyncio.create_task(stop.wait())
            exits = [asyncio.create_task(p.wait()) for p in processes]
            await asyncio.wait((stopping, *exits), return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            for task in exits:
                task.cancel()
            await asyncio.wait((stopping, *exits))
            if not stop.is_set():
                _log.error("a worker exited on its own: stopping the others")
                status = EXIT_WORKER_FAILED
        except WorkerFailed as exc:
            _log.error("%s", exc)
            status = EXIT_WORKER_FAILED
        finally:
            await _stop(processes, settings.shutdown_timeout_s + KILL_MARGIN_S)
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
    return status
