"""What every daily asset and check shares, said once.

Every asset takes the one daily partitions definition and the one backfill policy (so the whole
graph runs as one, partitions.py), its domain's group, an owner (`team:<domain>`) and a `domain`
tag, and kinds that say what it uses and how it is stored. A step that calls a model runs in the
`llm` pool with no step retries (llm.policy). The partitions are read when an asset is defined,
not when this module is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Set
from typing import Any

import dagster as dg

from glimpse_assets import partitions
from glimpse_assets.llm.policy import LLM_POOL, llm_retry_policy

DOMAIN_TAG = "domain"


def owner(domain: str) -> str:
    return f"team:{domain}"


def daily_asset(
    *,
    domain: str,
    kinds: Set[str],
    group_name: str | None = None,
    calls_a_model: bool = False,
    **kwargs: Any,
) -> Callable[..., dg.AssetsDefinition]:
    """`dg.asset` for one of `domain`'s daily assets.

    `kinds`: what the asset uses (pandas, openai, lancedb, ...) and the one format it is stored
    in (parquet, json, png or html: the IO manager reads it from there); "python" is added.
    `group_name`: the lineage it is shown in, the domain's own by default. `calls_a_model`: the
    step calls a provider through the gateway (the `llm` pool and its retry policy). Any other
    `dg.asset` argument passes through.
    """
    if calls_a_model:
        kwargs = {"pool": LLM_POOL, "retry_policy": llm_retry_policy(), **kwargs}
    return dg.asset(
        partitions_def=partitions.daily_partitions,
        backfill_policy=partitions.BACKFILL_POLICY,
        group_name=group_name or domain,
        owners=[owner(domain)],
        tags={DOMAIN_TAG: domain},
        kinds={"python", *kinds},
        **kwargs,
    )


def daily_asset_check(**kwargs: Any) -> Callable[..., dg.AssetChecksDefinition]:
    """`dg.asset_check` with the day's partitions: one result per day, shown per partition."""
    return dg.asset_check(partitions_def=partitions.daily_partitions, **kwargs)
