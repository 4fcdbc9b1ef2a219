"""Asset checks for the rides lineage."""

from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from glimpse_assets.asset_defaults import daily_asset_check
from glimpse_assets.llm.policy import LLM_POOL
from glimpse_assets.providers.base import TextProvider
from glimpse_assets.ranges import check_each_day
from glimpse_assets.rides.assets import anomaly_summaries, clustered_rides, raw_rides
from glimpse_assets.skipped_checks import NothingToCheck

if TYPE_CHECKING:
    import pandas as pd


class AnomalyBandConfig(dg.Config):
    # DBSCAN's eps is in standard deviations, so a busier day has a lower rate: about 2% of
    # 10,000 simulated rides, about 0.02% of 1,000,000.
    min_rate: float = Field(default=0.0001, ge=0, le=1, description="Lowest expected rate.")
    max_rate: float = Field(default=0.10, ge=0, le=1, description="Highest expected rate.")


@daily_asset_check(
    asset=clustered_rides,
    blocking=True,
    additional_ins={"raw_rides": dg.AssetIn(key=raw_rides.key)},
)
def clustered_rides_are_all_labelled(
    context: dg.AssetCheckExecutionContext, clustered_rides, raw_rides
) -> dg.AssetCheckResult:
    """No null labels, and exactly as many labelled rows as valid raw rides. Blocking."""
    return check_each_day(
        context, labels_check, clustered_rides=clustered_rides, raw_rides=raw_rides
    )


def labels_check(
    day: str, clustered_rides: "pd.DataFrame", raw_rides: "pd.DataFrame"
) -> dg.AssetCheckResult:
    problems = []
    for column in ("cluster", "is_anomaly"):
        if column not in clustered_rides.columns:
            problems.append(f"no {column} column")
        elif (nulls := int(clustered_rides[column].isna().sum())) > 0:
            problems.append(f"{nulls} null {column} labels")
    if len(clustered_rides) != len(raw_rides):
        problems.append(f"{len(clustered_rides)} labelled rows for {len(raw_rides)} raw rides")
    return dg.AssetCheckResult(
        passed=not problems,
        description="; ".join(problems) or f"{len(clustered_rides)} rides, all labelled",
        metadata={"labelled": len(clustered_rides), "raw": len(raw_rides)},
    )


@daily_asset_check(asset=clustered_rides)
def anomaly_rate_is_within_band(
    context: dg.AssetCheckExecutionContext, config: AnomalyBandConfig, clustered_rides
) -> dg.AssetCheckResult:
    """A warning, not a stop: a rate outside the band asks a person to look at the day."""

    def band_check(day: str, clustered_rides: "pd.DataFrame") -> dg.AssetCheckResult:
        return rate_check(day, clustered_rides, config)

    return check_each_day(context, band_check, clustered_rides=clustered_rides)


def rate_check(
    day: str, clustered_rides: "pd.DataFrame", config: AnomalyBandConfig
) -> dg.AssetCheckResult:
    rides = len(clustered_rides)
    rate = float(clustered_rides["is_anomaly"].mean()) if rides else 0.0
    inside = rides > 0 and config.min_rate <= rate <= config.max_rate
    description = (
        f"no rides on {day}"
        if rides == 0
        else f"anomaly rate {rate:.3%} is {'inside' if inside else 'outside'} "
        f"{config.min_rate:.3%}..{config.max_rate:.3%}"
    )
    return dg.AssetCheckResult(
        passed=inside,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        # No rides, no rate: the metadata says only what was measured.
        metadata={"rides": rides, **({"anomaly_rate": rate} if rides else {})},
    )


# In the llm pool: with the openai provider, the judge calls the model.
@daily_asset_check(
    asset=anomaly_summaries,
    additional_ins={"clustered_rides": dg.AssetIn(key=clustered_rides.key)},
    pool=LLM_POOL,
)
def anomaly_summaries_are_grounded(
    context: dg.AssetCheckExecutionContext,
    anomaly_summaries,
    clustered_rides,
    text_provider: TextProvider,
) -> dg.AssetCheckResult | NothingToCheck:
    """Summary quality, measured daily: each distinct summary's sentences held to what it was
    written from (its rides' news, weather and traffic, and the row's ride facts) by MiniLM
    similarity (a sentence is supported at >= 0.55); the mean share of supported sentences,
    wanted >= 0.9, every summary at least 2/3 and within 120 words. With the openai provider
    a judge model also grades up to 3 summaries 1-5 (wanted >= 3); offline that score is
    skipped. A warning otherwise; skipped on a day without anomalies."""
    from glimpse_assets.rides.quality import summaries_quality_check

    def check(day: str, anomaly_summaries, clustered_rides) -> dg.AssetCheckResult | NothingToCheck:
        return summaries_quality_check(
            context, day, anomaly_summaries, clustered_rides, text_provider
        )

    return check_each_day(
        context, check, anomaly_summaries=anomaly_summaries, clustered_rides=clustered_rides
    )


rides_checks = [clustered_rides_are_all_labelled, anomaly_rate_is_within_band]
# Quality measured daily (glimpse_assets/quality): registered beside rides_checks.
rides_quality_checks = [anomaly_summaries_are_grounded]
