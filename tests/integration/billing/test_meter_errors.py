"""Stripe Billing Meter error reports (a v2 "thin" event): logged, kept, counted in metrics."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.fakes.stripe import FakeStripe
from tests.integration.billing.conftest import WEBHOOK_SECRET, deliver, stripe_settings
from tests.support.server import serve_app
from voice_server.app import create_app

METER = {
    "id": "mtr_test_voice",
    "type": "billing.meter",
    "url": "/v1/billing/meters/mtr_test_voice",
}


def error_report(event_id: str, **data: Any) -> dict[str, Any]:
    """A v1.billing.meter.error_report_triggered event as an event destination delivers it."""
    event: dict[str, Any] = {
        "id": event_id,
        "object": "v2.core.event",
        "type": "v1.billing.meter.error_report_triggered",
        "created": "2026-11-26T12:00:00.000Z",
        "livemode": False,
        "context": None,
        "related_object": METER,
    }
    if data:
        event["data"] = data
    return event


DETAILS = {
    "developer_message_summary": "3 meter events could not be recorded",
    "validation_start": "2026-11-26T11:00:00.000Z",
    "validation_end": "2026-11-26T12:00:00.000Z",
    "reason": {
        "error_count": 3,
        "error_types": [
            {
                "code": "meter_event_customer_not_found",
                "error_count": 2,
                "sample_errors": [
                    {
                        "error_message": "No customer with id cus_gone",
                        "request": {"identifier": "voice:5b1e:0"},
                    }
                ],
            },
            {"code": "timestamp_too_far_in_past", "error_count": 1, "sample_errors": []},
        ],
    },
}


async def test_a_meter_error_report_is_logged_kept_and_counted(
    billing_http: httpx.AsyncClient, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="parley.billing.webhooks"):
        response = await deliver(billing_http, error_report("evt_meter_err_1", **DETAILS))
    assert response.status_code == 200
    assert response.json()["outcome"] == "processed"
    (warning,) = [r for r in caplog.records if r.name == "parley.billing.webhooks"]
    message = warning.getMessage()
    assert "mtr_test_voice" in message
    assert "meter_event_customer_not_found x2" in message
    assert "timestamp_too_far_in_past x1" in message
    assert "No customer with id cus_gone" in message

    logged = await pool.fetchrow("SELECT type, created, processed_at, payload FROM stripe_events")
    assert logged["type"] == "v1.billing.meter.error_report_triggered"
    assert logged["created"] == 1795694400  # the ISO time of the v2 event, as Unix seconds
    assert logged["processed_at"] is not None
    assert '"mtr_test_voice"' in logged["payload"]

    metrics = (await billing_http.get("/metrics")).text
    assert 'parley_billing_meter_errors_total{code="meter_event_customer_not_found"} 2.0' in metrics
    assert 'parley_billing_meter_errors_total{code="timestamp_too_far_in_past"} 1.0' in metrics


async def test_a_thin_report_without_details_points_to_the_dashboard_and_is_not_doubled(
    billing_http: httpx.AsyncClient, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    event = error_report("evt_meter_err_2")
    with caplog.at_level(logging.WARNING, logger="parley.billing.webhooks"):
        first = await deliver(billing_http, event)
        replay = await deliver(billing_http, event)
    assert first.json()["outcome"] == "processed"
    assert replay.json()["outcome"] == "duplicate"
    warnings = [r.getMessage() for r in caplog.records if r.name == "parley.billing.webhooks"]
    assert len(warnings) == 1
    assert "mtr_test_voice" in warnings[0]
    assert "Stripe Dashboard" in warnings[0]
    assert await pool.fetchval("SELECT count(*) FROM stripe_events") == 1
    metrics = (await billing_http.get("/metrics")).text
    assert 'parley_billing_meter_errors_total{code="unknown"} 1.0' in metrics


async def test_an_event_with_a_bad_created_time_is_refused(
    billing_http: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    event = error_report("evt_meter_err_3") | {"created": "yesterday"}
    response = await deliver(billing_http, event)
    assert response.status_code == 400
    assert "created" in response.json()["detail"]
    assert await pool.fetchval("SELECT count(*) FROM stripe_events") == 0


async def test_an_event_destinations_own_secret_is_accepted_alongside_the_endpoints(
    tmp_path: Path, database_url: str, fake_stripe: FakeStripe, pool: asyncpg.Pool
) -> None:
    destination_secret = "whsec_event_destination"
    settings = stripe_settings(
        tmp_path,
        database_url,
        fake_stripe,
        stripe_webhook_secret=f"{WEBHOOK_SECRET}, {destination_secret}",
    )
    async with (
        serve_app(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        by_destination = await deliver(
            http, error_report("evt_meter_err_4"), secret=destination_secret
        )
        by_endpoint = await deliver(http, error_report("evt_meter_err_5"), secret=WEBHOOK_SECRET)
        forged = await deliver(http, error_report("evt_meter_err_6"), secret="whsec_nobody")
    assert (by_destination.status_code, by_endpoint.status_code) == (200, 200)
    assert forged.status_code == 400
    assert await pool.fetchval("SELECT count(*) FROM stripe_events") == 2
