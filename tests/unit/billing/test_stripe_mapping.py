"""How plans map to Stripe prices, and Stripe objects back to subscription state."""

from __future__ import annotations

from datetime import UTC, datetime

from billing.catalog import lookup_keys, overage_tiers, plan_of_lookup_key
from billing.metering import meter_identifier
from billing.plans import load_plans
from billing.stripe_objects import subscription_changes, subscription_of_invoice, tenant_hint


def test_each_sold_plan_has_a_monthly_price_and_one_per_metered_overage() -> None:
    catalog = load_plans()
    assert lookup_keys(catalog.get("starter")) == ["parley_starter_monthly"]
    assert lookup_keys(catalog.get("pro")) == [
        "parley_pro_monthly",
        "parley_pro_messages_overage",
        "parley_pro_voice_minutes_overage",
    ]
    assert plan_of_lookup_key("parley_business_monthly") == "business"
    assert plan_of_lookup_key("parley_pro_messages_overage") is None
    assert plan_of_lookup_key(None) is None


def test_included_usage_is_the_free_first_tier() -> None:
    pro = load_plans().get("pro")
    assert overage_tiers(pro, "messages") == [
        {"up_to": 25000, "unit_amount_decimal": "0"},
        {"up_to": "inf", "unit_amount_decimal": "0.5"},
    ]
    voice = overage_tiers(pro, "voice_minutes")
    assert voice[0]["up_to"] == 2000 * 60
    # 8 cents a minute, metered per second, in Stripe's 12 decimal places.
    assert voice[1]["unit_amount_decimal"] == "0.133333333333"


def test_meter_identifiers_are_stable_per_usage_event_and_fit_stripe() -> None:
    first = meter_identifier("t1", "message:42")
    assert first == meter_identifier("t1", "message:42")
    assert first != meter_identifier("t2", "message:42")
    assert first != meter_identifier("t1", "message:43")
    assert len(first) <= 100


def test_the_period_is_read_from_items_on_newer_api_versions() -> None:
    subscription = {
        "id": "sub_1",
        "customer": {"id": "cus_1", "object": "customer"},
        "status": "active",
        "cancel_at_period_end": True,
        "items": {
            "data": [
                {
                    "price": {"lookup_key": "parley_pro_monthly"},
                    "current_period_start": 1_800_000_000,
                    "current_period_end": 1_802_592_000,
                }
            ]
        },
    }
    changes = subscription_changes(subscription)
    assert changes == {
        "status": "active",
        "stripe_subscription_id": "sub_1",
        "stripe_customer_id": "cus_1",
        "cancel_at_period_end": True,
        "current_period_start": datetime.fromtimestamp(1_800_000_000, UTC),
        "current_period_end": datetime.fromtimestamp(1_802_592_000, UTC),
        "plan": "pro",
    }


def test_a_subscription_without_our_price_keeps_its_metadata_plan() -> None:
    changes = subscription_changes({"id": "sub_1", "metadata": {"plan": "starter"}})
    assert changes["plan"] == "starter"
    assert changes["status"] == "incomplete"


def test_invoices_name_their_subscription_in_either_api_shape() -> None:
    assert subscription_of_invoice({"subscription": "sub_1"}) == "sub_1"
    nested = {"parent": {"subscription_details": {"subscription": "sub_2"}}}
    assert subscription_of_invoice(nested) == "sub_2"
    assert subscription_of_invoice({}) is None


def test_the_tenant_hint_comes_from_metadata_or_the_client_reference() -> None:
    assert tenant_hint({"metadata": {"tenant_id": "t1"}}) == "t1"
    assert tenant_hint({"client_reference_id": "t2", "metadata": {}}) == "t2"
    assert tenant_hint({"subscription_details": {"metadata": {"tenant_id": "t3"}}}) == "t3"
    assert tenant_hint({}) is None
