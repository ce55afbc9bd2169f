"""`parley billing …` commands. Wired into voice_server.cli with `add_commands` and `run`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import stripe

from billing.services import load_catalog
from billing.setup import WEBHOOK_EVENTS, setup_stripe, webhook_url
from billing.stripe_client import open_stripe
from billing.webhooks import METER_ERROR_REPORT
from voice_server.settings import Settings

EXIT_FAILED = 1
EXIT_NOT_CONFIGURED = 2


def add_commands(subparsers: Any) -> None:
    billing = subparsers.add_parser("billing", help="Stripe billing: set up products and prices")
    actions = billing.add_subparsers(dest="billing_command", required=True, metavar="ACTION")
    setup = actions.add_parser(
        "setup",
        help="create Stripe meters, products and prices for the plans file (idempotent)",
    )
    setup.add_argument(
        "--public-url", help="public base URL of this server (overrides PARLEY_BILLING_PUBLIC_URL)"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.billing_command == "setup":
        return asyncio.run(_setup(settings, args.public_url))
    return EXIT_FAILED


async def _setup(settings: Settings, public_url: str | None) -> int:
    if settings.stripe_secret_key is None:
        print("parley: set PARLEY_STRIPE_SECRET_KEY (or STRIPE_SECRET_KEY) first", file=sys.stderr)
        return EXIT_NOT_CONFIGURED
    try:
        catalog = load_catalog(settings)
    except ValueError as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return EXIT_NOT_CONFIGURED
    try:
        async with open_stripe(settings) as client:
            report = await setup_stripe(client, catalog)
    except stripe.StripeError as exc:
        print(f"parley: Stripe refused the setup: {exc.user_message or exc}", file=sys.stderr)
        return EXIT_FAILED
    for item in report.created:
        print(f"created {item}")
    for item in report.kept:
        print(f"exists  {item}")
    print()
    print("Add this webhook endpoint in the Stripe Dashboard (Developers > Webhooks):")
    print(f"  {webhook_url(public_url or settings.billing_public_url)}")
    print(f"  events: {', '.join(WEBHOOK_EVENTS)}")
    print("then set PARLEY_STRIPE_WEBHOOK_SECRET to its signing secret (whsec_...).")
    print("To hear about usage Stripe could not record, add an event destination (thin payload)")
    print(f"for {METER_ERROR_REPORT} to the same URL and append its")
    print("signing secret to PARLEY_STRIPE_WEBHOOK_SECRET, comma-separated.")
    return 0
