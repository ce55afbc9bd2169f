"""The fake Stripe API answers the official SDK the way Stripe does (wire format, errors)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import stripe

from billing.stripe_client import open_stripe, retryable
from tests.conftest import make_settings
from tests.fakes.stripe import FakeStripe, parse_form


def test_bracket_notation_becomes_nested_objects_and_lists() -> None:
    parsed = parse_form(
        [
            ("metadata[tenant_id]", "t1"),
            ("line_items[0][price]", "price_a"),
            ("line_items[1][price]", "price_b"),
            ("line_items[0][quantity]", "1"),
            ("lookup_keys[0]", "k"),
        ]
    )
    assert parsed == {
        "metadata": {"tenant_id": "t1"},
        "line_items": [{"price": "price_a", "quantity": "1"}, {"price": "price_b"}],
        "lookup_keys": ["k"],
    }


@pytest.fixture
async def fake() -> AsyncIterator[FakeStripe]:
    async with FakeStripe.running() as running:
        yield running


@pytest.fixture
async def client(fake: FakeStripe, tmp_path: Path) -> AsyncIterator[stripe.StripeClient]:
    settings = make_settings(tmp_path, stripe_secret_key=fake.api_key, stripe_api_base=fake.url)
    async with open_stripe(settings, max_network_retries=0) as opened:
        yield opened


async def test_objects_round_trip_through_the_sdk(client: stripe.StripeClient) -> None:
    customer = await client.v1.customers.create_async({"metadata": {"tenant_id": "t1"}})
    assert customer.id.startswith("cus_")
    assert customer.metadata["tenant_id"] == "t1"
    again = await client.v1.customers.retrieve_async(customer.id)
    assert again.id == customer.id


async def test_missing_objects_are_stripe_errors_with_codes(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.customers.retrieve_async("cus_nope")
    assert caught.value.code == "resource_missing"
    assert caught.value.http_status == 404
    assert not retryable(caught.value)


async def test_a_bad_key_is_an_authentication_error(fake: FakeStripe, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, stripe_secret_key="sk_test_wrong", stripe_api_base=fake.url)
    async with open_stripe(settings, max_network_retries=0) as wrong:
        with pytest.raises(stripe.AuthenticationError):
            await wrong.v1.customers.create_async()


async def test_an_idempotency_key_replays_the_first_answer(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    first = await client.v1.customers.create_async(options={"idempotency_key": "k1"})
    second = await client.v1.customers.create_async(options={"idempotency_key": "k1"})
    assert first.id == second.id
    assert len(fake.all("customer")) == 1
    with pytest.raises(stripe.IdempotencyError):
        await client.v1.customers.create_async({"email": "x@y.z"}, {"idempotency_key": "k1"})


async def test_prices_are_found_by_lookup_key(client: stripe.StripeClient) -> None:
    product = await client.v1.products.create_async({"id": "parley_pro", "name": "Pro"})
    price = await client.v1.prices.create_async(
        {
            "product": product.id,
            "currency": "usd",
            "unit_amount": 9900,
            "recurring": {"interval": "month"},
            "lookup_key": "parley_pro_monthly",
        }
    )
    found = await client.v1.prices.list_async({"lookup_keys": ["parley_pro_monthly"]})
    assert [p.id for p in found.data] == [price.id]
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.products.create_async({"id": "parley_pro", "name": "Pro"})
    assert caught.value.code == "resource_already_exists"


async def test_meter_events_with_one_identifier_count_once(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    await client.v1.billing.meters.create_async(
        {
            "display_name": "Messages",
            "event_name": "parley_messages",
            "default_aggregation": {"formula": "sum"},
        }
    )
    customer = await client.v1.customers.create_async()
    for _ in range(2):
        await client.v1.billing.meter_events.create_async(
            {
                "event_name": "parley_messages",
                "identifier": "usage-1",
                "payload": {"stripe_customer_id": customer.id, "value": "3"},
            }
        )
    assert fake.meter_event_posts == 2
    assert fake.metered_total("parley_messages") == 3


async def test_an_outage_is_a_retryable_api_error(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    fake.outage = True
    with pytest.raises(stripe.APIError) as caught:
        await client.v1.customers.create_async()
    assert caught.value.http_status == 500
    assert retryable(caught.value)
    assert fake.all("customer") == []
