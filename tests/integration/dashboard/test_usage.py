from __future__ import annotations

import httpx

from tests.support.tenants import TenantKeys


async def test_usage_shows_the_plan_and_its_limits(
    http: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    response = await http.get("/v1/usage", headers=tenant.user_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["plan"]["id"]  # which plan depends on billing's settings
    used = {limit["name"]: limit["used"] for limit in body["limits"]}
    assert used["voice_minutes_per_month"] == 0


async def test_widget_keys_cannot_read_usage(http: httpx.AsyncClient, tenant: TenantKeys) -> None:
    assert (await http.get("/v1/usage", headers=tenant.widget_headers)).status_code == 403
