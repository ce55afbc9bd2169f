"""The `parley` command: serve, migrate."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from billing import cli as billing_cli
from dashboard_api import cli as dashboard_cli
from voice_server import __version__
from voice_server.errors import DatabaseSetupError
from voice_server.logs import configure_logging
from voice_server.settings import Settings, SettingsError, load_settings

_log = logging.getLogger("parley.cli")

EXIT_BAD_SETTINGS = 2
EXIT_DATABASE = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parley",
        description="Parley: a self-hostable, voice-first chatbot server.",
        epilog="Settings come from the environment and .env; see the README's settings table.",
    )
    parser.add_argument("--version", action="version", version=f"parley {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP/WebSocket server")
    serve.add_argument("--host", help="bind address (overrides PARLEY_HOST)")
    serve.add_argument("--port", type=int, help="TCP port (overrides PARLEY_PORT)")
    serve.add_argument(
        "--workers",
        type=int,
        help="server processes sharing the port, one event loop each (overrides PARLEY_WORKERS)",
    )
    # Internal: set by the parent of `--workers N` on each worker it starts (voice_server.workers).
    serve.add_argument("--ready-fd", type=int, help=argparse.SUPPRESS)

    commands.add_parser("migrate", help="apply pending database migrations and exit")
    billing_cli.add_commands(commands)
    dashboard_cli.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = {
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
        "workers": getattr(args, "workers", None),
    }
    overrides = {key: value for key, value in options.items() if value is not None}
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    configure_logging(settings.log_level, json_lines=settings.log_json)
    try:
        if args.command == "serve":
            from voice_server.server import serve

            if settings.demo is None:  # `parley serve` opens on the demo unless told not to
                settings = settings.model_copy(update={"demo": True})
            ready_fd = getattr(args, "ready_fd", None)
            if settings.workers > 1 and ready_fd is None:
                from voice_server.workers import supervise

                return asyncio.run(supervise(settings, settings.workers))
            asyncio.run(serve(settings, ready_fd=ready_fd))
        elif args.command == "migrate":
            asyncio.run(run_migrations(settings))
        elif args.command == "billing":
            return billing_cli.run(args, settings)
        elif args.command == "signup-invite":
            return dashboard_cli.run(args, settings)
    except DatabaseSetupError as exc:
        print(f"parley: {exc.detail}", file=sys.stderr)
        return EXIT_DATABASE
    return 0


async def run_migrations(settings: Settings) -> None:
    from voice_server.db import open_database
    from voice_server.db.migrations import load_migrations, migrate

    migrations = load_migrations()
    async with open_database(settings) as database, database.pool.acquire() as conn:
        applied = await migrate(conn, migrations)
    if applied:
        for migration in applied:
            print(f"applied {migration.label}")
    else:
        latest = migrations[-1].label if migrations else "none"
        print(f"nothing to apply; the database is at {latest}")
