"""The rides lineage: raw_rides -> clustered_rides -> anomaly_summaries -> rides_report
(-> rides_report_page). raw_rides also reads the day's raw_news headlines.

As in the news lineage, each asset's logic is written for one day and run by `for_each_day`, so
one definition serves a daily run and a backfill range (see `ranges`).
"""

from datetime import date, timedelta

import dagster as dg
import pandas as pd
from pydantic import Field

from glimpse_assets.formats import HtmlDocument
from glimpse_assets.llm.policy import LLM_POOL, LLMStepConfig, llm_retry_policy
from glimpse_assets.metadata import markdown_table, png_preview
from glimpse_assets.news.text import clean_text
from glimpse_assets.partitions import (
    PROVIDER_BACKFILL_POLICY,
    SINGLE_RUN_BACKFILL_POLICY,
    daily_partitions,
)
from glimpse_assets.providers.base import TextProvider
from glimpse_assets.ranges import add_day_metadata, for_each_day
from glimpse_assets.rides.clustering import cluster_rides
from glimpse_assets.rides.conditions import attach_conditions
from glimpse_assets.rides.plot import scatter_png
from glimpse_assets.rides.report import DayRate, report_page, report_table
from glimpse_assets.rides.sources import RidesSource
from glimpse_assets.rides.summaries import summarise_anomalies

RIDES_GROUP = "rides"
HISTORY_DAYS = 7


class RawRidesConfig(dg.Config):
    rides_per_day: int | None = Field(
        default=None, ge=0, description="Overrides GLIMPSE_RIDES_PER_DAY for simulated rides."
    )


class ClusteringConfig(dg.Config):
    eps: float = Field(default=0.3, gt=0, description="DBSCAN radius, in standard deviations.")
    min_samples: int = Field(default=10, ge=1, description="DBSCAN core point threshold.")


def headlines(raw_news: pd.DataFrame) -> list[str]:
    ordered = raw_news.sort_values(["published", "id"], kind="stable")
    return [text for text in (clean_text(t) for t in ordered["title"]) if text]


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=SINGLE_RUN_BACKFILL_POLICY,
    group_name=RIDES_GROUP,
    kinds={"python", "parquet"},
    description="The day's taxi rides, with the news, weather and traffic each one went through.",
)
def raw_rides(
    context: dg.AssetExecutionContext, config: RawRidesConfig, raw_news, rides_source: RidesSource
):
    def rides_of(day: date, raw_news: pd.DataFrame) -> pd.DataFrame:
        return rides_for_day(context, rides_source, day, raw_news, config.rides_per_day)

    return for_each_day(context, rides_of, raw_news=raw_news)


def rides_for_day(
    context: dg.AssetExecutionContext,
    rides_source: RidesSource,
    day: date,
    raw_news: pd.DataFrame,
    rides_per_day: int | None,
) -> pd.DataFrame:
    rides, dropped = rides_source.rides_for_day(day, rides_per_day)
    rides = attach_conditions(rides, day, headlines(raw_news))
    add_day_metadata(
        context,
        {
            "rides_source": rides_source.kind,
            "rides": len(rides),
            **{f"dropped_{reason}": count for reason, count in dropped.items()},
            "note": "no rides for this day" if rides.empty else "",
            "preview": dg.MetadataValue.md(
                markdown_table(rides, ["ride_id", "ride_dist", "ride_time", "weather"], limit=5)
            ),
        },
    )
    return rides


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=SINGLE_RUN_BACKFILL_POLICY,
    group_name=RIDES_GROUP,
    kinds={"python", "parquet"},
    description="Every ride labelled by DBSCAN on standardised distance and time; -1 = anomaly.",
)
def clustered_rides(context: dg.AssetExecutionContext, config: ClusteringConfig, raw_rides):
    def cluster(day: date, raw_rides: pd.DataFrame) -> pd.DataFrame:
        return cluster_day(context, raw_rides, day, config)

    return for_each_day(context, cluster, raw_rides=raw_rides)


def cluster_day(
    context: dg.AssetExecutionContext, raw_rides: pd.DataFrame, day: date, config: ClusteringConfig
) -> pd.DataFrame:
    clustered, stats = cluster_rides(raw_rides, config.eps, config.min_samples)
    add_day_metadata(
        context,
        {
            "rows": stats.rows,
            "clusters": stats.clusters,
            "anomalies": stats.anomalies,
            "anomaly_rate": stats.anomaly_rate,
            "eps": config.eps,
            "min_samples": config.min_samples,
            "plot": png_preview(scatter_png(clustered, day.isoformat())),
        },
    )
    return clustered


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=PROVIDER_BACKFILL_POLICY,
    group_name=RIDES_GROUP,
    kinds={"python", "parquet"},
    description="For each anomalous ride, a summary of at most 3 sentences of its conditions; "
    "one provider call per distinct context.",
    pool=LLM_POOL,
    retry_policy=llm_retry_policy(),
)
def anomaly_summaries(
    context: dg.AssetExecutionContext,
    config: LLMStepConfig,
    clustered_rides,
    text_provider: TextProvider,
    rides_source: RidesSource,
):
    def summarise(day: date, clustered_rides: pd.DataFrame) -> pd.DataFrame:
        return summaries_for_day(context, clustered_rides, text_provider, rides_source, config)

    return for_each_day(context, summarise, clustered_rides=clustered_rides)


def summaries_for_day(
    context: dg.AssetExecutionContext,
    clustered_rides: pd.DataFrame,
    text_provider: TextProvider,
    rides_source: RidesSource,
    config: LLMStepConfig,
) -> pd.DataFrame:
    summaries, usage = summarise_anomalies(
        context, clustered_rides, text_provider, rides_source.city, force=config.force
    )
    add_day_metadata(
        context,
        {
            **usage,
            "provider_calls": usage["contexts"],
            "preview": dg.MetadataValue.md(
                markdown_table(summaries.drop_duplicates("summary"), ["summary", "model"], limit=8)
            ),
        },
    )
    return summaries


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=SINGLE_RUN_BACKFILL_POLICY,
    group_name=RIDES_GROUP,
    kinds={"python", "parquet"},
    description="The morning table for dashboards: every labelled ride with its summary.",
)
def rides_report(context: dg.AssetExecutionContext, clustered_rides, anomaly_summaries):
    def report(day: date, clustered_rides, anomaly_summaries) -> pd.DataFrame:
        return report_table(clustered_rides, anomaly_summaries)

    return for_each_day(
        context, report, clustered_rides=clustered_rides, anomaly_summaries=anomaly_summaries
    )


def day_rate_history(context: dg.AssetExecutionContext, day: date) -> list[DayRate]:
    """Rides and anomalies of the previous days, from clustered_rides' recorded metadata."""
    keys = [(day - timedelta(days=n)).isoformat() for n in range(HISTORY_DAYS, 0, -1)]
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=clustered_rides.key, asset_partitions=keys), limit=1000
    ).records  # newest first
    latest: dict[str, dict] = {}
    for record in records:
        latest.setdefault(record.partition_key, record.asset_materialization.metadata)
    history = []
    for key in keys:
        metadata = latest.get(key)
        if metadata and "rows" in metadata and "anomalies" in metadata:
            history.append(DayRate(key, metadata["rows"].value, metadata["anomalies"].value))
    return history


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=SINGLE_RUN_BACKFILL_POLICY,
    group_name=RIDES_GROUP,
    kinds={"python", "html"},
    description="The morning report as a page: counts, the rate against the previous 7 days, "
    "the plot and the summaries.",
)
def rides_report_page(context: dg.AssetExecutionContext, rides_report, rides_source: RidesSource):
    def page(day: date, rides_report: pd.DataFrame) -> HtmlDocument:
        return report_page_for_day(context, rides_report, rides_source.city, day)

    return for_each_day(context, page, rides_report=rides_report)


def report_page_for_day(
    context: dg.AssetExecutionContext, rides_report: pd.DataFrame, city: str, day: date
) -> HtmlDocument:
    key = day.isoformat()
    today = DayRate(key, len(rides_report), int(rides_report["is_anomaly"].sum()))
    history = day_rate_history(context, day)
    plot = scatter_png(rides_report, key)
    add_day_metadata(context, {"days_compared": len(history), "anomaly_rate": today.rate or 0.0})
    return report_page(city, today, history, rides_report, plot)


rides_assets = [raw_rides, clustered_rides, anomaly_summaries, rides_report, rides_report_page]
