"""The daily budget guard: what LLM steps recorded as spent today, read from the event log."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

COST_METADATA_KEY = "cost_usd"


class BudgetExceededError(dg.Failure):
    """Raised before any call, so nothing is spent; never retried."""

    def __init__(self, description: str):
        super().__init__(description=description, allow_retries=False)


def utc_midnight(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def spent_since(instance: dg.DagsterInstance, asset_keys: list[str], since: datetime) -> float:
    """The summed `cost_usd` of every materialisation of `asset_keys` since `since`."""
    total = 0.0
    for name in asset_keys:
        records_filter = dg.AssetRecordsFilter(
            asset_key=dg.AssetKey(name), after_timestamp=since.timestamp()
        )
        cursor = None
        while True:
            page = instance.fetch_materializations(records_filter, limit=500, cursor=cursor)
            for record in page.records:
                value = record.asset_materialization.metadata.get(COST_METADATA_KEY)
                total += float(value.value) if value is not None else 0.0
            if not page.has_more:
                break
            cursor = page.cursor
    return total


def check_budget(budget_usd: float, spent_usd: float, estimate_usd: float, calls: int) -> None:
    if spent_usd + estimate_usd > budget_usd:
        raise BudgetExceededError(
            f"GLIMPSE_DAILY_BUDGET_USD is ${budget_usd:.4f}: {spent_usd:.4f} USD is already spent "
            f"today (UTC) and this step would spend up to {estimate_usd:.4f} USD more on "
            f"{calls} uncached call(s), {spent_usd + estimate_usd:.4f} USD in all. "
            "Nothing was called."
        )
