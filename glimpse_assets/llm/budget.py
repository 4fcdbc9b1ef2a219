"""The daily budget guard: what LLM steps recorded as spent today, read from the event log."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from dagster_shared.check import CheckError

from glimpse_assets.llm.policy import LLM_POOL

COST_METADATA_KEY = "cost_usd"


class BudgetExceededError(dg.Failure):
    """Raised before any call, so nothing is spent; never retried."""

    def __init__(self, description: str):
        super().__init__(description=description, allow_retries=False)


def utc_midnight(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _pooled(pairs: Iterable[tuple[dg.AssetKey, dg.AssetsDefinition]]) -> list[dg.AssetKey]:
    return sorted(
        {
            key
            for key, assets_def in pairs
            if assets_def.is_executable
            and LLM_POOL in {node.pool for node in assets_def.node_def.iterate_op_defs()}
        },
        key=lambda key: key.to_user_string(),
    )


def llm_asset_keys(repository: dg.RepositoryDefinition) -> list[dg.AssetKey]:
    """Every asset whose step runs in the `llm` pool: the assets that call the gateway, found by
    what they declare, so a new domain's LLM assets count against the budget without a list."""
    return _pooled(repository.assets_defs_by_key.items())


def budget_asset_keys(context: Any) -> list[dg.AssetKey]:
    """The LLM assets whose spend counts for the step running in `context`: those of its code
    location. A run with no code location behind it (`JobDefinition.execute_in_process`, as
    `make run` does, or `dg.materialize`) has no repository on its context, only its job, so
    there the job's own LLM assets are all that can be counted."""
    step = context.op_execution_context
    try:
        repository = step.repository_def
    except CheckError:  # "No repository definition was set on the step context"
        assets_defs = step.job_def.asset_layer.asset_graph.assets_defs
        return _pooled((key, assets_def) for assets_def in assets_defs for key in assets_def.keys)
    return llm_asset_keys(repository)


def spent_since(
    instance: dg.DagsterInstance, asset_keys: list[dg.AssetKey], since: datetime
) -> float:
    """The summed `cost_usd` of every materialisation of `asset_keys` since `since`."""
    total = 0.0
    for asset_key in asset_keys:
        records_filter = dg.AssetRecordsFilter(
            asset_key=asset_key, after_timestamp=since.timestamp()
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
