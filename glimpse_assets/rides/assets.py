"""The rides lineage: raw_rides -> clustered_rides -> anomaly_summaries -> rides_report
(-> rides_report_page). raw_rides also reads the day's raw_news headlines."""

from datetime import date, timedelta

import dagster as dg
import pandas as pd
from pydantic import Field

from glimpse_assets.formats import HtmlDocument
from glimpse_assets.llm.policy import LLM_POOL, LLMStepConfig, llm_retry_policy
from glimpse_assets.metadata import markdown_table, png_preview
from glimpse_assets.news.assets import partition_day
from glimpse_assets.news.text import clean_text
from glimpse_assets.partitions import daily_partitions
from glimpse_assets.providers.base import TextProvider
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
    group_name=RIDES_GROUP,
    kinds={"python", "parquet"},
    description="The day's taxi rides, with the news, weather and traffic each one went through.",
)
def raw_rides(
    context: dg.AssetExecutionContext,
    config: RawRidesConfig,
    raw_news: pd.DataFrame,
    rides_source: RidesSource,
) -> pd.DataFrame:
    day = partition_day(context)
    rides, dropped = rides_source.rides_for_day(day, config.rides_per_day)
    rides = attach_conditions(rides, day, headlines(raw_news))
    context.add_output_metadata(
        {
            "rides_source": rides_source.kind,
            "rides": len(rides),
            **{f"dropped_{reason}": count for reason, count in dropped.items()},
            "note": "no rides for this day" if rides.empty else "",
            "preview": dg.MetadataValue.md(
                markdown_table(rides, ["ride_id", "ride_dist", "ride_time", "weather"], limit=5)
            ),
        }
    )
    return rides


@dg.asset(
    partitions_def=daily_partitions,
    group_name=RIDES_GROUP,
    kinds={"python", "parquet"},
    description="Every ride labelled by DBSCAN on standardised distance and time; -1 = anomaly.",
)
def clustered_rides(
    context: dg.AssetExecutionContext, config: ClusteringConfig, raw_rides: pd.DataFrame
) -> pd.DataFrame:
    clustered, stats = cluster_rides(raw_rides, config.eps, config.min_samples)
    context.add_output_metadata(
        {
            "rows": stats.rows,
            "clusters": stats.clusters,
            "anomalies": stats.anomalies,
            "anomaly_rate": stats.anomaly_rate,
            "eps": config.eps,
            "min_samples": config.min_samples,
            "plot": png_preview(scatter_png(clustered, context.partition_key)),
        }
    )
    return clustered


@dg.asset(
    partitions_def=daily_partitions,
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
    clustered_rides: pd.DataFrame,
    text_provider: TextProvider,
    rides_source: RidesSource,
) -> pd.DataFrame:
    summaries, usage = summarise_anomalies(
        context, clustered_rides, text_provider, rides_source.city, force=config.force
    )
    context.add_output_metadata(
        {
            **usage,
            "provider_calls": usage["contexts"],
            "preview": dg.MetadataValue.md(
                markdown_table(summaries.drop_duplicates("summary"), ["summary", "model"], limit=8)
            ),
        }
    )
    return summaries


@dg.asset(
    partitions_def=daily_partitions,
    group_name=RIDES_GROUP,
    kinds={"python", "parquet"},
    description="The morning table for dashboards: every labelled ride with its summary.",
)
def rides_report(clustered_rides: pd.DataFrame, anomaly_summaries: pd.DataFrame) -> pd.DataFrame:
    return report_table(clustered_rides, anomaly_summaries)


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
    group_name=RIDES_GROUP,
    kinds={"python", "html"},
    description="The morning report as a page: counts, the rate against the previous 7 days, "
    "the plot and the summaries.",
)
def rides_report_page(
    context: dg.AssetExecutionContext, rides_report: pd.DataFrame, rides_source: RidesSource
) -> HtmlDocument:
    today = DayRate(context.partition_key, len(rides_report), int(rides_report["is_anomaly"].sum()))
    history = day_rate_history(context, partition_day(context))
    plot = scatter_png(rides_report, context.partition_key)
    context.add_output_metadata({"days_compared": len(history), "anomaly_rate": today.rate or 0.0})
    return report_page(rides_source.city, today, history, rides_report, plot)


rides_assets = [raw_rides, clustered_rides, anomaly_summaries, rides_report, rides_report_page]
