from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from billing.plans import LIMIT_NAMES, load_plans, parse_plans
from billing.subscriptions import granted_plan

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def _plan(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {name: 10 for name in LIMIT_NAMES}
    values.update(overrides)
    return values


def test_bundled_plans_have_the_four_sold_tiers_and_a_self_hosted_one() -> None:
    catalog = load_plans()
    assert [plan.id for plan in catalog.sold()] == ["starter", "pro", "business"]
    assert catalog.get("free").limit("messages_per_month") == 500
    assert catalog.get("pro").metered("messages")
    assert not catalog.get("starter").metered("messages")
    assert all(catalog.get("unlimited").limit(name) is None for name in LIMIT_NAMES)


def test_a_misspelt_limit_is_an_error_not_an_unlimited_plan() -> None:
    data = {"plans": {"tiny": {**_plan(), "mesages_per_month": 5}}}
    with pytest.raises(ValueError, match=r"plan 'tiny': unknown keys \['mesages_per_month'\]"):
        parse_plans(data)


def test_a_missing_limit_names_the_plan_and_the_key() -> None:
    values = _plan()
    del values["bots"]
    with pytest.raises(ValueError, match="plan 'tiny': missing bots"):
        parse_plans({"plans": {"tiny": values}})


@pytest.mark.parametrize("bad", [-1, "lots", 1.5, True])
def test_limits_are_counts_or_unlimited(bad: object) -> None:
    with pytest.raises(ValueError, match="bots must be a non-negative integer"):
        parse_plans({"plans": {"tiny": _plan(bots=bad)}})


def test_metered_overage_needs_a_paid_plan_and_a_finite_limit() -> None:
    with pytest.raises(ValueError, match="needs a paid plan"):
        parse_plans({"plans": {"tiny": _plan(overage={"messages": "1"})}})
    with pytest.raises(ValueError, match="needs a finite messages_per_month"):
        parse_plans(
            {
                "plans": {
                    "tiny": _plan(
                        price_cents=100, messages_per_month="unlimited", overage={"messages": "1"}
                    )
                }
            }
        )


def test_unreadable_and_malformed_files_say_which_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read plans file"):
        load_plans(tmp_path / "absent.toml")
    broken = tmp_path / "plans.toml"
    broken.write_text("[plans.free\n")
    with pytest.raises(ValueError, match="is not valid TOML"):
        load_plans(broken)


@pytest.mark.parametrize(
    ("status", "grace", "granted"),
    [
        ("active", None, "pro"),
        ("trialing", None, "pro"),
        ("past_due", NOW + timedelta(days=1), "pro"),
        ("past_due", NOW - timedelta(seconds=1), None),
        ("canceled", None, None),
        ("incomplete", None, None),
        ("none", None, None),
    ],
)
def test_which_subscription_states_grant_their_plan(
    status: str, grace: datetime | None, granted: str | None
) -> None:
    assert granted_plan("pro", status, grace, NOW) == granted
