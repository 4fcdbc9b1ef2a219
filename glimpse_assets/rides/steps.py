"""One day of each rides asset: what `rides.assets` runs for every day a run covers.

Imported by the assets when they run, so that loading the code location loads none of pandas,
numpy, Pillow or the DBSCAN package.
"""

from __future__ import annotations

import io
from datetime import date, timedelta

import dagster as dg
import pandas as pd

from glimpse_assets.llm.policy import LLMStepConfig
from glimpse_assets.metadata import markdown_table, png_preview
from glimpse_assets.partitions import START_DATE
from glimpse_assets.providers.base import TextProvider
from glimpse_assets.ranges import add_day_metadata, requests_made
from glimpse_assets.rides.clustering import cluster_rides, finite_rides
from glimpse_assets.rides.conditions import attach_conditions, block_conditions
from glimpse_assets.rides.plot import scatter_png
from glimpse_assets.rides.report import DayRate, report_page
from glimpse_assets.rides.sources import RidesSource
from glimpse_assets.rides.summaries import summarise_anomalies
from glimpse_assets.storage.formats import PARQUET, HtmlDocument
from glimpse_assets.storage.io_manager import object_stem
from glimpse_assets.storage.object_store import ObjectNotFoundError, ObjectStore


def rides_for_day(
    context: dg.AssetExecutionContext,
    rides_source: RidesSource,
    day: date,
    raw_news: pd.DataFrame,
    rides_per_day: int | None,
) -> pd.DataFrame:
    rides, dropped = rides_source.rides_for_day(day, rides_per_day)
    # Whatever the source: a NaN or infinite distance or time would make every ride noise.
    rides, dropped["nonfinite_features"] = finite_rides(rides)
    conditions = rides_source.conditions_source
    blocks = block_conditions(
        day,
        raw_news,
        news_by_publication_time=rides_source.news_by_publication_time,
        conditions=conditions,
        timezone=rides_source.clock,
    )
    rides = attach_conditions(rides, blocks)
    add_day_metadata(
        context,
        {
            "rides_source": rides_source.kind,
            "rides": len(rides),
            **{f"dropped_{reason}": count for reason, count in dropped.items()},
            "conditions_source": conditions,
            "news_rule": (
                "headline of each block's time"
                if rides_source.news_by_publication_time
                else "headlines in turn"
            ),
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
    rate = stats.anomaly_rate
    add_day_metadata(
        context,
        {
            "rows": stats.rows,
            "clusters": stats.clusters,
            "anomalies": stats.anomalies,
            # No rides, no rate: the key is left out rather than reported as 0.0.
            **({"anomaly_rate": rate} if rate is not None else {}),
            "dropped_nonfinite_features": stats.dropped_nonfinite_features,
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
    day: date,
) -> pd.DataFrame:
    summaries, counts = summarise_anomalies(
        context, clustered_rides, text_provider, rides_source.city, force=config.force
    )
    requests = requests_made(context, day, summaries)
    add_day_metadata(
        context,
        {
            **counts,
            **({"provider_calls": requests} if requests is not None else {}),
            "preview": dg.MetadataValue.md(
                markdown_table(
                    summaries.drop_duplicates("summary"), ["summary", "model", "method"], limit=8
                )
            ),
        },
    )
    return summaries


def history_days(days: int, day: date, first: date | None = None) -> list[str]:
    """The `days` days before `day`, oldest first, none before the first partition (`first`)."""
    first = first or START_DATE
    window = (day - timedelta(days=n) for n in range(days, 0, -1))
    return [earlier.isoformat() for earlier in window if earlier >= first]


def stored_day_rates(store: ObjectStore, asset: dg.AssetKey, days: list[str]) -> list[DayRate]:
    """Rides and anomalies of each stored day of `asset` (clustered_rides) among `days`, read
    from storage; a day never materialised is skipped. Only the `is_anomaly` column is decoded
    (a row count and a sum); the object itself is read whole, as the object store serves it."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rates = []
    for key in days:
        try:
            data = store.get(f"{object_stem(asset, key)}.{PARQUET.extension}")
        except ObjectNotFoundError:
            continue
        labels = pq.read_table(io.BytesIO(data), columns=["is_anomaly"]).column("is_anomaly")
        anomalies = pc.sum(labels).as_py() or 0
        rates.append(DayRate(key, len(labels), int(anomalies)))
    return rates


def report_page_for_day(
    context: dg.AssetExecutionContext,
    rides_report: pd.DataFrame,
    city: str,
    day: date,
    store: ObjectStore,
    history_asset: dg.AssetKey,
    history: int,
) -> HtmlDocument:
    key = day.isoformat()
    today = DayRate(key, len(rides_report), int(rides_report["is_anomaly"].sum()))
    window = history_days(history, day)
    history = stored_day_rates(store, history_asset, window)
    plot = scatter_png(rides_report, key)
    add_day_metadata(
        context,
        {
            "days_compared": len(history),
            "history_days_not_stored": len(window) - len(history),
            **({"anomaly_rate": today.rate} if today.rate is not None else {}),
        },
    )
    return report_page(city, today, history, rides_report, plot)
