"""The owners' billing endpoints, end to end: real server, real auth, the fake Stripe."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx

from billing.ledger import record_usage
from tests.conftest import make_settings
from tests.fakes.stripe import FakeStripe
from tests.integration.billing.conftest import deliver
from tests.support.server import serve_app
from tests.support.tenants import create_tenant
from voice_server.app import create_app


async def test_an_owner_subscribes_changes_plan_cancels_and_sees_invoices(
    billing_http: httpx.AsyncClient, fake_stripe: FakeStripe, database_url: str
) -> None:
    owner = await create_tenant(database_url)
    headers = owner.user_headers
    before = (await billing_http.get("/v1/billing/subscription", headers=headers)).json()
    assert (before["plan"], before["status"]) == ("free", "none")

    checkout = await billing_http.post(
        "/v1/billing/checkout", json={"plan": "pro"}, headers=headers
    )
    assert checkout.status_code == 201, checkout.text
    assert checkout.json()["url"].startswith("https://checkout.stripe.com/")
    fake_stripe.complete_checkout(checkout.json()["id"])
    for event in fake_stripe.events:
        assert (await deliver(billing_http, event)).status_code == 200

    subscription = (await billing_http.get("/v1/billing/subscription", headers=headers)).json()
    assert (subscription["plan"], subscription["status"]) == ("pro", "active")
    usage = (await billing_http.get("/v1/billing/usage", headers=headers)).json()
    assert usage["plan"]["id"] == "pro"

    changed = await billing_http.post(
        "/v1/billing/subscription/plan", json={"plan": "business"}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["plan"] == "business"
    canceled = await billing_http.post("/v1/billing/subscription/cancel", headers=headers)
    assert canceled.json()["cancel_at_period_end"] is True

    invoices = (await billing_http.get("/v1/billing/invoices", headers=headers)).json()["items"]
    assert [(i["status"], i["amount_paid"]) for i in invoices] == [("paid", 9900)]
    portal = await billing_http.post("/v1/billing/portal", headers=headers)
    assert portal.json()["url"].startswith("https://billing.stripe.com/")


async def test_only_owners_spend_money_and_widget_keys_see_nothing(
    billing_http: httpx.AsyncClient, database_url: str
) -> None:
    tenant = await create_tenant(database_url)
    assert (await billing_http.get("/v1/billing/usage", headers=tenant.secret_headers)).is_success
    refused = await billing_http.post(
        "/v1/billing/checkout", json={"plan": "pro"}, headers=tenant.secret_headers
    )
    assert refused.status_code == 403
    assert refused.json()["required_scope"] == "billing:write"
    widget = await billing_http.get("/v1/billing/usage", headers=tenant.widget_headers)
    assert widget.status_code == 403
    anonymous = await billing_http.get("/v1/billing/usage")
    assert anonymous.status_code == 401


async def test_buying_a_plan_that_is_not_sold_is_a_400(
    billing_http: httpx.AsyncClient, database_url: str
) -> None:
    owner = await create_tenant(database_url)
    response = await billing_http.post(
        "/v1/billing/checkout", json={"plan": "free"}, headers=owner.user_headers
    )
    assert response.status_code == 400
    assert "not a plan one can subscribe to" in response.json()["detail"]


async def test_usage_warns_at_80_percent_of_a_limit(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url=database_url, billing_default_plan="free")
    owner = await create_tenant(database_url)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    assert pool is not None
    async with pool.acquire() as conn:
        for i in range(410):
            await record_usage(conn, owner.tenant_id, "message", 1, f"message:{i}")
    await pool.close()
    async with serve_app(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        usage = (await http.get("/v1/billing/usage", headers=owner.user_headers)).json()
    messages = next(item for item in usage["limits"] if item["name"] == "messages_per_month")
    assert (messages["used"], messages["limit"], messages["warning"]) == (410, 500, True)
    assert usage["warnings"] == [
        "bots reached (1 of 1)",  # the free plan's only bot exists
        "messages_per_month at 82% (410 of 500)",
    ]


async def test_self_hosted_without_stripe_gets_the_unlimited_plan_and_no_checkout(
    http: httpx.AsyncClient, database_url: str
) -> None:
    owner = await create_tenant(database_url)
    plans = (await http.get("/v1/billing/plans", headers=owner.user_headers)).json()
    assert (plans["default_plan"], plans["stripe"]) == ("unlimited", False)
    usage = (await http.get("/v1/billing/usage", headers=owner.user_headers)).json()
    assert usage["plan"]["id"] == "unlimited"
    assert usage["warnings"] == []
    checkout = await http.post(
        "/v1/billing/checkout", json={"plan": "pro"}, headers=owner.user_headers
    )
    assert checkout.status_code == 503
    assert "PARLEY_STRIPE_SECRET_KEY" in checkout.json()["detail"]


async def test_the_billing_routes_are_documented(http: httpx.AsyncClient) -> None:
    paths = (await http.get("/schema/openapi.json")).json()["paths"]
    for path in ("/v1/billing/usage", "/v1/billing/checkout", "/v1/billing/webhooks/stripe"):
        assert path in paths
