"""What every daily asset and check shares, said once.

Every asset takes the one daily partitions definition and the one backfill policy (so the whole
graph runs as one, partitions.py), its domain's group, an owner (`team:<domain>`) and a `domain`
tag, and kinds that say what it uses and how it is stored. A step that calls a model runs in the
`llm` pool with no step retries (llm.policy). The partitions are read when an asset is defined,
not when this module is imported.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Set
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


def daily_asset_check(
    *,
    asset: dg.AssetsDefinition,
    blocking: bool = False,
    additional_ins: Mapping[str, dg.AssetIn] | None = None,
    pool: str | None = None,
) -> Callable[..., dg.AssetChecksDefinition]:
    """A check of one of the daily assets: one result per day, shown per partition.

    A check may have nothing to look at on a day (no main story, fewer than two stories...): its
    function then returns `skipped_checks.NothingToCheck`, and the day's check is skipped, never
    "passed" on nothing. For that a non-blocking check is Dagster's
    `@multi_asset_check(can_subset=True)` over its one spec: its result is optional, so a step
    that yields none ends with the check planned and not evaluated, which Dagster shows as
    skipped (`ranges.check_each_day` logs why, one line a day). A blocking check is a plain
    `dg.asset_check` and must always answer: what waits for it would be skipped too. Either way
    the check name and step key are those `dg.asset_check` gives.
    """
    if blocking:
        return dg.asset_check(
            asset=asset,
            blocking=True,
            additional_ins=additional_ins,
            pool=pool,
            partitions_def=partitions.daily_partitions,
        )
    return _skippable_check(asset, dict(additional_ins or {}), pool)


def _skippable_check(
    asset: dg.AssetsDefinition, ins: dict[str, dg.AssetIn], pool: str | None
) -> Callable[..., dg.AssetChecksDefinition]:
    from glimpse_assets.skipped_checks import NothingToCheck

    def decorate(fn: Callable[..., Any]) -> dg.AssetChecksDefinition:
        spec = dg.AssetCheckSpec(
            fn.__name__,
            asset=asset,
            additional_deps=[asset_in.key for asset_in in ins.values()],
            description=inspect.cleandoc(fn.__doc__ or "") or None,
            partitions_def=partitions.daily_partitions,
        )

        # Called as Dagster calls `fn` (its signature, through `__wrapped__`: with or without
        # a context).
        @functools.wraps(fn)
        def check(*args: Any, **kwargs: Any):
            result = fn(*args, **kwargs)
            if not isinstance(result, NothingToCheck):
                yield result

        # The function's own return annotation is not the op's (it yields).
        check.__annotations__ = {k: v for k, v in fn.__annotations__.items() if k != "return"}
        return dg.multi_asset_check(
            name=spec.get_python_identifier(),
            specs=[spec],
            can_subset=True,
            ins=ins,
            pool=pool,
        )(check)

    return decorate
