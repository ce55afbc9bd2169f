"""Quota checks: the one function chat and voice call before doing billable work.

    quota = QuotaService(...)               # the runtime's QUOTA slot, or the `quota` dependency
    await quota.check(tenant_id, "message")         # before answering a chat message
    allowance = await quota.check(tenant_id, "voice_session")   # before opening a voice session
    allowance.remaining                             # voice seconds left (None: no cap)

Each check is one SQL round trip (plan, period and the relevant usage in one statement) and
raises :class:`voice_server.errors.QuotaExceeded` (402) with ``plan``, ``limit_name``,
``limit``, ``used`` and ``unit`` in the problem's extensions. Without Stripe every tenant has the
default plan, and a limit that plan leaves unlimited costs no query at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, get_args
from uuid import UUID

import asyncpg

from billing.metrics import BillingMetrics
from billing.plans import LIMIT_NAMES, LimitName, OverageName, Plan, PlanCatalog
from billing.subscriptions import granted_plan
from voice_server.db.types import Connection
from voice_server.errors import QuotaExceeded

QuotaKind = Literal["message", "voice_seconds", "voice_session", "bot", "document", "storage_bytes"]
QUOTA_KINDS: frozenset[str] = frozenset(get_args(QuotaKind))
WARNING_RATIO = 0.8
# A voice session counts as in use while its server marks it seen (voice_server.voice.liveness);
# one left open by a crashed server stops counting once it has not been seen for this long.
DEFAULT_VOICE_LIVENESS_S = 45.0


# What each limit is measured by: an SQL expression over $1 = tenant id and `period.start`.
def _period_usage(kind: str) -> str:
    # Whole hours from the hourly counters, the part-hour after a mid-hour period start from the
    # events themselves (calendar months start on the hour, so that part is usually empty).
    return (
        "((SELECT coalesce(sum(c.quantity), 0) FROM usage_counters c WHERE c.tenant_id = $1"
        f" AND c.kind = '{kind}' AND c.hour >= period.first_hour)"
        " + (SELECT coalesce(sum(u.quantity), 0) FROM usage_events u WHERE u.tenant_id = $1"
        f" AND u.kind = '{kind}' AND u.occurred_at >= period.start"
        " AND u.occurred_at < period.first_hour))"
    )


_MEASURES: dict[LimitName, str] = {
    "messages_per_month": _period_usage("message"),
    "voice_minutes_per_month": _period_usage("voice_seconds"),
    "concurrent_voice_sessions": (
        "(SELECT count(*) FROM voice_sessions v WHERE v.tenant_id = $1 AND v.ended_at IS NULL"
        " AND v.last_seen_at > now() - make_interval(secs => {liveness_s}))"
    ),
    "bots": "(SELECT count(*) FROM bots b WHERE b.tenant_id = $1)",
    "documents": "(SELECT count(*) FROM documents d WHERE d.tenant_id = $1)",
    "storage_bytes": (
        "(SELECT coalesce(sum(d.size_bytes), 0) FROM documents d WHERE d.tenant_id = $1)"
    ),
}
_UNITS: dict[LimitName, str] = {
    "messages_per_month": "messages",
    "voice_minutes_per_month": "minutes",
    "concurrent_voice_sessions": "sessions",
    "bots": "bots",
    "documents": "documents",
    "storage_bytes": "bytes",
}
_OVERAGE_OF: dict[LimitName, OverageName] = {
    "messages_per_month": "messages",
    "voice_minutes_per_month": "voice_minutes",
}
# The limits each check reads; the first one is what the returned Allowance describes.
_CHECKED: dict[str, tuple[LimitName, ...]] = {
    "message": ("messages_per_month",),
    "voice_seconds": ("voice_minutes_per_month",),
    "voice_session": ("voice_minutes_per_month", "concurrent_voice_sessions"),
    "bot": ("bots",),
    "document": ("documents",),
    "storage_bytes": ("storage_bytes",),
}


def _statement(limits: tuple[LimitName, ...], liveness_s: float) -> str:
    # liveness_s is a float from the settings, never text from a request.
    measures = ", ".join(
        f"{_MEASURES[name].replace('{liveness_s}', repr(float(liveness_s)))} AS {name}"
        for name in limits
    )
    return f"""
        WITH sub AS (
            SELECT plan, status, grace_until, current_period_start, current_period_end
            FROM subscriptions WHERE tenant_id = $1
        ), period_start AS (
            SELECT coalesce(
                (SELECT current_period_start FROM sub
                  WHERE current_period_start <= now() AND current_period_end > now()),
                date_trunc('month', now(), 'UTC')) AS start
        ), period AS (
            SELECT start, CASE WHEN date_trunc('hour', start, 'UTC') = start THEN start
                          ELSE date_trunc('hour', start, 'UTC') + interval '1 hour'
                          END AS first_hour
            FROM period_start
        )
        SELECT sub.plan, sub.status, sub.grace_until, sub.current_period_end,
               period.start AS period_start, now() AS now, {measures}
        FROM period LEFT JOIN sub ON true
    """


# Voice seconds of the period recorded by everything but one session (whose keys start with $2).
_VOICE_BY_OTHERS = """
    WITH sub AS (
        SELECT current_period_start, current_period_end FROM subscriptions WHERE tenant_id = $1
    ), period AS (
        SELECT coalesce(
            (SELECT current_period_start FROM sub
              WHERE current_period_start <= now() AND current_period_end > now()),
            date_trunc('month', now(), 'UTC')) AS start
    )
    SELECT coalesce(sum(u.quantity), 0) FROM usage_events u, period
    WHERE u.tenant_id = $1 AND u.kind = 'voice_seconds' AND u.occurred_at >= period.start
      AND u.idempotency_key NOT LIKE $2
"""


@dataclass(frozen=True)
class Allowance:
    """What is left of one limit after a successful check, in the limit's own unit, except voice
    minutes, given in seconds (``limit``, ``used``, ``remaining``) since voice counts seconds."""

    plan: str
    limit_name: LimitName
    limit: float | None  # None: unlimited
    used: float
    metered: bool  # past the limit the plan keeps working and bills the overage

    @property
    def remaining(self) -> float | None:
        """None when the work is never refused (unlimited, or metered overage)."""
        if self.limit is None or self.metered:
            return None
        return max(0.0, self.limit - self.used)


@dataclass(frozen=True)
class LimitUsage:
    name: LimitName
    unit: str
    limit: float | None
    used: float
    metered: bool

    @property
    def ratio(self) -> float | None:
        if self.limit is None:
            return None
        return math.inf if self.limit == 0 and self.used > 0 else self.used / (self.limit or 1)

    def as_json(self) -> dict[str, Any]:
        ratio = self.ratio
        return {
            "name": self.name,
            "unit": self.unit,
            "limit": self.limit,
            "used": self.used,
            "percent": None if ratio is None or math.isinf(ratio) else round(ratio * 100, 1),
            "warning": ratio is not None and ratio >= WARNING_RATIO,
            "exceeded": self.limit is not None and self.used >= self.limit,
            "metered_overage": self.metered,
        }


@dataclass(frozen=True)
class UsageSummary:
    plan: Plan
    period_start: datetime
    period_end: datetime | None
    limits: list[LimitUsage]

    @property
    def warnings(self) -> list[str]:
        notes = []
        for usage in self.limits:
            ratio = usage.ratio
            if ratio is not None and ratio >= WARNING_RATIO:
                what = "reached" if ratio >= 1 else f"at {min(ratio, 1) * 100:.0f}%"
                notes.append(f"{usage.name} {what} ({_fmt(usage.used)} of {_fmt(usage.limit)})")
        return notes

    def as_json(self) -> dict[str, Any]:
        return {
            "plan": {"id": self.plan.id, "name": self.plan.name},
            "period": {
                "start": self.period_start.isoformat(),
                "end": self.period_end.isoformat() if self.period_end else None,
            },
            "limits": [usage.as_json() for usage in self.limits],
            "warnings": self.warnings,
        }


def _fmt(value: float | None) -> str:
    if value is None:
        return "unlimited"
    return f"{value:g}"


class QuotaService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        catalog: PlanCatalog,
        *,
        default_plan: str,
        subscriptions_enabled: bool,
        metrics: BillingMetrics | None = None,
        voice_liveness_s: float = DEFAULT_VOICE_LIVENESS_S,
    ) -> None:
        self._metrics = metrics
        self._statements = {
            kind: _statement(limits, voice_liveness_s) for kind, limits in _CHECKED.items()
        }
        self._summary_statement = _statement(LIMIT_NAMES, voice_liveness_s)
        self._pool = pool
        self._catalog = catalog
        self._default = catalog.get(default_plan)
        # Without Stripe nothing writes subscriptions: every tenant has the default plan.
        self._subscriptions_enabled = subscriptions_enabled

    @property
    def default_plan(self) -> Plan:
        return self._default

    def plan_for(self, plan_id: str | None, status: str | None, grace: datetime | None,
                 now: datetime) -> Plan:  # fmt: skip
        if not self._subscriptions_enabled:
            return self._default
        granted = granted_plan(plan_id, status, grace, now)
        if granted is None or granted not in self._catalog:
            return self._default
        return self._catalog.get(granted)

    async def check(
        self,
        tenant_id: UUID,
        kind: QuotaKind,
        amount: float = 1,
        *,
        conn: Connection | None = None,
    ) -> Allowance:
        """Raise QuotaExceeded if doing ``amount`` more of ``kind`` would pass the plan's limit.

        ``message``: one chat message (amount = messages). ``voice_seconds``: seconds about to
        be spoken. ``voice_session``: opening a voice session (call it before inserting the
        ``voice_sessions`` row): refuses when the concurrent-session limit is reached or no
        voice minutes are left, and returns the voice seconds left as ``remaining``. ``bot``,
        ``document``, ``storage_bytes``: creating that many more. ``conn`` lets a caller run
        the check inside its own transaction.
        """
        limit_names = _CHECKED[kind]
        if not self._subscriptions_enabled and all(
            self._default.limit(name) is None for name in limit_names
        ):
            return Allowance(self._default.id, limit_names[0], None, 0.0, False)
        if conn is None:
            async with self._pool.acquire() as acquired:
                row = await acquired.fetchrow(self._statements[kind], tenant_id)
        else:
            row = await conn.fetchrow(self._statements[kind], tenant_id)
        assert row is not None
        plan = self.plan_for(row["plan"], row["status"], row["grace_until"], row["now"])
        allowances = [_allowance(plan, name, row[name]) for name in limit_names]
        voice = kind == "voice_session"
        for allowance in allowances:
            if allowance.limit is None or allowance.metered:
                continue
            # Opening a session needs one more session and some voice time left.
            needed = 1 if allowance.limit_name == "concurrent_voice_sessions" else amount
            over = (
                allowance.used >= allowance.limit
                if voice and allowance.limit_name == "voice_minutes_per_month"
                else allowance.used + needed > allowance.limit
            )
            if over:
                if self._metrics is not None:
                    self._metrics.quota_refusals.labels(allowance.limit_name).inc()
                raise _exceeded(plan, allowance)
        return allowances[0]

    async def voice_seconds_used(self, tenant_id: UUID, *, excluding_session: UUID) -> float:
        """The period's voice seconds of the tenant's other sessions: a live session adds what it
        spent itself, so that sessions running side by side share one allowance."""
        async with self._pool.acquire() as conn:
            used = await conn.fetchval(_VOICE_BY_OTHERS, tenant_id, f"voice:{excluding_session}:%")
        return float(used)

    async def usage_summary(self, tenant_id: UUID) -> UsageSummary:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(self._summary_statement, tenant_id)
        assert row is not None
        plan = self.plan_for(row["plan"], row["status"], row["grace_until"], row["now"])
        limits = []
        for name in LIMIT_NAMES:
            used = float(row[name])
            limit = plan.limit(name)
            if name == "voice_minutes_per_month":
                used = round(used / 60, 2)
            overage = _OVERAGE_OF.get(name)
            metered = overage is not None and plan.metered(overage)
            limits.append(LimitUsage(name, _UNITS[name], limit, used, metered))
        end = row["current_period_end"] if self._subscriptions_enabled else None
        return UsageSummary(plan, row["period_start"], end, limits)


def _allowance(plan: Plan, name: LimitName, measured: int | Decimal) -> Allowance:
    limit = plan.limit(name)
    used = float(measured)
    scaled: float | None = None if limit is None else float(limit)
    if name == "voice_minutes_per_month" and scaled is not None:
        scaled *= 60  # voice usage is counted in seconds
    overage = _OVERAGE_OF.get(name)
    return Allowance(plan.id, name, scaled, used, overage is not None and plan.metered(overage))


def _exceeded(plan: Plan, allowance: Allowance) -> QuotaExceeded:
    name = allowance.limit_name
    limit, used = allowance.limit, allowance.used
    if name == "voice_minutes_per_month":
        limit, used = (limit or 0) / 60, round(used / 60, 2)
    unit = _UNITS[name]
    detail = (
        f"the {plan.name} plan allows {_fmt(limit)} {unit.replace('_', ' ')}"
        f"{' per month' if name.endswith('_per_month') else ''}; {_fmt(used)} used. "
        "Upgrade the plan to continue."
    )
    return QuotaExceeded(detail, plan=plan.id, limit_name=name, limit=limit, used=used, unit=unit)
