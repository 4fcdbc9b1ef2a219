"""One provider call per DISTINCT context of the anomalous rides, never one per ride."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from glimpse_assets.providers.base import RideConditions, TextProvider
from glimpse_assets.rides.conditions import CONTEXT_COLUMNS

SUMMARY_COLUMNS = [
    "ride_id",
    "cluster",
    "ride_dist",
    "ride_time",
    "summary",
    "provider",
    "model",
    "method",  # what wrote the summary, e.g. "extractive, not an LLM: ..." or "LLM via ..."
]


def distinct_conditions(anomalies: pd.DataFrame) -> pd.DataFrame:
    """The distinct (news, weather, traffic) triples, in a stable order."""
    contexts = anomalies[CONTEXT_COLUMNS].astype(str).drop_duplicates()
    return contexts.sort_values(CONTEXT_COLUMNS, kind="stable").reset_index(drop=True)


def summarise_anomalies(
    context: dg.AssetExecutionContext,
    clustered: pd.DataFrame,
    provider: TextProvider,
    city: str,
    force: bool = False,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """A summary row per anomalous ride, and how many anomalies and distinct contexts it took
    (the requests made, if any, are the provider's to report: see `steps.summaries_for_day`)."""
    anomalies = clustered[clustered["is_anomaly"]]
    contexts = distinct_conditions(anomalies)
    results = provider.summarise_conditions(
        context,
        [RideConditions(city, *row) for row in contexts.itertuples(index=False)],
        force=force,
    )
    text_columns = {
        "summary": [r.text for r in results],
        "provider": [r.provider for r in results],
        "model": [r.model for r in results],
        "method": [r.method for r in results],
    }
    # Typed as strings even on a day without anomalies, so every day's file has one schema.
    summaries = contexts.assign(
        **{name: pd.Series(values, dtype="string") for name, values in text_columns.items()}
    )
    keys = anomalies[CONTEXT_COLUMNS].astype(str)
    rows = pd.concat([anomalies[["ride_id", "cluster", "ride_dist", "ride_time"]], keys], axis=1)
    merged = rows.merge(summaries, on=CONTEXT_COLUMNS, how="left", validate="many_to_one")
    usage: dict[str, int] = {"anomalies": len(anomalies), "contexts": len(contexts)}
    return merged[SUMMARY_COLUMNS].reset_index(drop=True), usage
