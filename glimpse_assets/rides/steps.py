"""One day of each rides asset: what `rides.assets` runs for every day a run covers.

Imported by the assets when they run, so that loading the code location loads none of pandas,
numpy, matplotlib or the DBSCAN package.
"""

from datetime import date, timedelta

import dagster as dg
import pandas as pd

from glimpse_assets.llm.policy import LLMStepConfig
from glimpse_assets.metadata import markdown_table, png_preview
from glimpse_assets.news.text import clean_text
from glimpse_assets.providers.base import TextProvider
from glimpse_assets.ranges import add_day_metadata
from glimpse_assets.rides.clustering import cluster_rides
from glimpse_assets.rides.conditions import attach_conditions
from glimpse_assets.rides.plot import scatter_png
from glimpse_assets.rides.report import DayRate, report_page
from glimpse_assets.rides.sources import RidesSource
from glimpse_assets.rides.summaries import summarise_anomalies
from glimpse_assets.storage.formats import HtmlDocument

HISTORY_DAYS = 7


def headlines(raw_news: pd.DataFrame) -> list[str]:
    ordered = raw_news.sort_values(["published", "id"], kind="stable")
    return [text for text in (clean_text(t) for t in ordered["title"]) if text]


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


def cluster_day(
    context: dg.AssetExecutionContext,
    raw_rides: pd.DataFrame,
    day: date,
    eps: float,
    min_samples: int,
) -> pd.DataFrame:
    clustered, stats = cluster_rides(raw_rides, eps, min_samples)
    add_day_metadata(
        context,
        {
            "rows": stats.rows,
            "clusters": stats.clusters,
            "anomalies": stats.anomalies,
            "anomaly_rate": stats.anomaly_rate,
            "eps": eps,
            "min_samples": min_samples,
            "plot": png_preview(scatter_png(clustered, day.isoformat())),
        },
    )
    return clustered


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


def day_rate_history(
    context: dg.AssetExecutionContext, clustered_rides: dg.AssetKey, day: date
) -> list[DayRate]:
    """Rides and anomalies of the previous days, from clustered_rides' recorded metadata."""
    keys = [(day - timedelta(days=n)).isoformat() for n in range(HISTORY_DAYS, 0, -1)]
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=clustered_rides, asset_partitions=keys), limit=1000
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


def report_page_for_day(
    context: dg.AssetExecutionContext,
    clustered_rides: dg.AssetKey,
    rides_report: pd.DataFrame,
    city: str,
    day: date,
) -> HtmlDocument:
    key = day.isoformat()
    today = DayRate(key, len(rides_report), int(rides_report["is_anomaly"].sum()))
    history = day_rate_history(context, clustered_rides, day)
    plot = scatter_png(rides_report, key)
    add_day_metadata(context, {"days_compared": len(history), "anomaly_rate": today.rate or 0.0})
    return report_page(city, today, history, rides_report, plot)
