"""This period's usage against the plan's limits (the plans and counting belong to billing)."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.di import NamedDependency
from litestar.params import SkipValidation

from billing.quota import QuotaService
from dashboard_api.guards import require_scope
from voice_server.principal import Principal


@get("/v1/usage", tags=["analytics"], summary="This billing period's usage against plan limits")
async def usage(
    principal: NamedDependency[Principal],
    quota: NamedDependency[SkipValidation[QuotaService]],
) -> dict[str, Any]:
    require_scope(principal, "analytics:read")
    summary = await quota.usage_summary(principal.tenant_id)
    return summary.as_json()
