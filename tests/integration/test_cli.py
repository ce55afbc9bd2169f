"""The `parley` command as an operator runs it: a real process, real signals, real database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest

from tests.support.postgres import database_name, with_user
from tests.support.server import free_port

PARLEY = [sys.executable, "-m", "voice_server"]


def _env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.pop("DATABASE_URL", None)
    env.update({"PARLEY_DATA_DIR": str(tmp_path / "data"), "PARLEY_LOG_JSON": "false"})
    env.update(values)
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        PARLEY + args, env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = _run(["--help"], _env(tmp_path), tmp_path)
    assert result.returncode == 0
    assert "serve" in result.stdout
    assert "migrate" in result.stdout


def test_migrate_twice_reports_nothing_left(tmp_path: Path, empty_database_url: str) -> None:
    env = _env(tmp_path, DATABASE_URL=empty_database_url)
    first = _run(["migrate"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "applied 0001_initial_schema" in first.stdout
    second = _run(["migrate"], env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "nothing to apply" in second.stdout


def test_bad_setting_is_one_clear_line_not_a_traceback(tmp_path: Path) -> None:
    result = _run(["serve"], _env(tmp_path, PARLEY_PORT="eighty"), tmp_path)
    assert result.returncode == 2
    assert "PARLEY_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        DATABASE_URL=f"postgresql://parley:secret-pw@127.0.0.1:{free_port()}/parley",
        PARLEY_DB_CONNECT_TIMEOUT_S="1",
    )
    result = _run(["migrate"], env, tmp_path)
    assert result.returncode == 3
    assert "cannot reach PostgreSQL" in result.stderr
    assert "secret-pw" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


async def test_missing_vector_permission_says_what_to_run(
    tmp_path: Path, pg_admin_url: str, empty_database_url: str
) -> None:
    """A non-superuser cannot enable pgvector; Parley says what to run instead of failing later."""
    if os.environ.get("DATABASE_URL"):
        pytest.skip("needs a server that trusts local logins (the embedded one)")
    database = database_name(empty_database_url)
    role = "limited_" + database[-8:]
    admin = await asyncpg.connect(pg_admin_url)
    try:
        await admin.execute(f"CREATE ROLE {role} LOGIN")
        await admin.execute(f'ALTER DATABASE "{database}" OWNER TO {role}')
        env = _env(tmp_path, DATABASE_URL=with_user(empty_database_url, role))
        result = _run(["migrate"], env, tmp_path)
        assert result.returncode == 3
        assert "CREATE EXTENSION vector" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.execute(f"DROP ROLE IF EXISTS {role}")
        await admin.close()


def _start_serving(tmp_path: Path) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen(
        PARLEY + ["serve"], env=_env(tmp_path, PARLEY_PORT=str(port)), cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"parley serve exited early:\n{output}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "server did not become ready"
        time.sleep(0.1)


def _postgres_pid(tmp_path: Path) -> int:
    pid_file = tmp_path / "data" / "pgdata" / "postmaster.pid"
    return int(pid_file.read_text().splitlines()[0])


def _is_running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_gone(pid: int, timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while _is_running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _is_running(pid)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture
def data_root() -> Iterator[Path]:
    """A folder outside pytest's tmp tree: pytest resets ``/tmp/pytest-of-<user>`` to 0700 when
    another session starts, which would lock out the system user pgserver runs PostgreSQL as."""
    with tempfile.TemporaryDirectory(prefix="parley-cli-", dir="/tmp") as folder:
        yield Path(folder)


def test_serve_embedded_then_sigterm_leaves_no_postgres(data_root: Path) -> None:
    tmp_path = data_root
    process, base = _start_serving(tmp_path)
    try:
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        postgres = _postgres_pid(tmp_path)
        assert _is_running(postgres)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert _wait_gone(postgres), "PostgreSQL outlived the server"
    finally:
        _stop(process)


def test_restart_after_a_crash_still_stops_postgres_on_sigterm(data_root: Path) -> None:
    """A server killed outright leaves PostgreSQL running; the next run adopts it, and stopping
    that run cleanly stops PostgreSQL too (no stale holder keeps it alive)."""
    tmp_path = data_root
    crashed, _ = _start_serving(tmp_path)
    crashed.kill()
    crashed.wait()
    survivor = _postgres_pid(tmp_path)
    assert _is_running(survivor)

    process, base = _start_serving(tmp_path)
    try:
        assert httpx.get(f"{base}/readyz").status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert _wait_gone(survivor), "PostgreSQL outlived the restarted server"
    finally:
        _stop(process)
        if _is_running(survivor):
            psutil.Process(survivor).kill()
