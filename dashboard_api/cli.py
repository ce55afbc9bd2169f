"""`parley signup-invite EMAIL`: an invitation code for one sign-up (PARLEY_SIGNUP=invite)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from voice_server.settings import Settings


def add_commands(subparsers: Any) -> None:
    invite = subparsers.add_parser(
        "signup-invite", help="print an invitation code that lets EMAIL create an organisation"
    )
    invite.add_argument("email", help="the address the code is good for")
    invite.add_argument("--days", type=float, default=7.0, help="days the code stays valid")


def run(args: argparse.Namespace, settings: Settings) -> int:
    print(asyncio.run(_invite(settings, args.email, args.days)))
    return 0


async def _invite(settings: Settings, email: str, days: float) -> str:
    from dashboard_api.accounts import normalise_email
    from dashboard_api.services import signing_secret
    from dashboard_api.signup import SignupInvites
    from voice_server.db import open_database

    address = normalise_email(email)
    async with open_database(settings) as database, database.pool.acquire() as conn:
        secret = await signing_secret(settings, conn)
    return SignupInvites(secret).issue(address, ttl_s=max(60, int(days * 86400)))
