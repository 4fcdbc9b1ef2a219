"""One provider call per DISTINCT context of the anomalous rides, never one per ride (the
request for each is `summary_text.summary_request`), with the facts of that context's anomalous
rides: when (their three-hour blocks), how many of the day's rides, and how they stood out
against the day's typical ride (`ride_facts`)."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
import numpy as np
import pandas as pd

from glimpse_assets.providers.base import TextProvider
from glimpse_assets.rides.conditions import BLOCK_HOURS, CONTEXT_COLUMNS
from glimpse_assets.rides.summary_text import (
    RideConditions,
    RideFacts,
    Unusual,
    fact_sentences,
    summary_request,
)

SUMMARY_COLUMNS = [
    "ride_id",
    "cluster",
    "ride_dist",
    "ride_time",
    "summary",
    "provider",
    "model",
    "method",  # what wrote the summary, e.g. "extractive, not an LLM: ..." or "LLM via ..."
    # What the summary was written from: its rides' conditions, and the facts of its rides
    # (when, where, how many, how unusual), so the row can be checked against its sources.
    *CONTEXT_COLUMNS,
    "facts",
]
# The usual range of a day's rides: between these percentiles of distance and of speed.
USUAL_PERCENTILES = (5.0, 95.0)
# Which way an anomalous ride left the usual range, and the measure that says so. A ride that
# left it several ways is counted once, by the first: long, fast, slow, short, then other.
KINDS = {"long": "km", "fast": "km/h", "slow": "km/h", "short": "km", "other": ""}


@dataclass(frozen=True)
class TypicalRide:
    """The day's typical ride (medians) and the usual range of distance and speed."""

    distance: float
    speed: float
    distance_range: tuple[float, float]
    speed_range: tuple[float, float]


def ride_speeds(rides: pd.DataFrame) -> np.ndarray:
    """km/h from distance and time (infinite for a ride of no time)."""
    km = rides["ride_dist"].to_numpy(dtype=float)
    minutes = rides["ride_time"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(minutes > 0, km / (minutes / 60.0), np.inf)


def typical_ride(rides: pd.DataFrame) -> TypicalRide | None:
    """The day's typical ride, or None on a day without rides."""
    if rides.empty:
        return None
    km = rides["ride_dist"].to_numpy(dtype=float)
    speed = ride_speeds(rides)
    speed = speed[np.isfinite(speed)]
    if len(speed) == 0:
        speed = np.zeros(1)
    low, high = USUAL_PERCENTILES
    return TypicalRide(
        distance=float(np.median(km)),
        speed=float(np.median(speed)),
        distance_range=(float(np.percentile(km, low)), float(np.percentile(km, high))),
        speed_range=(float(np.percentile(speed, low)), float(np.percentile(speed, high))),
    )


def unusual_kinds(rides: pd.DataFrame, typical: TypicalRide) -> np.ndarray:
    """For each ride, the way it left the day's usual range (see `KINDS`)."""
    km = rides["ride_dist"].to_numpy(dtype=float)
    speed = ride_speeds(rides)
    kinds = np.full(len(rides), "other", dtype=object)
    # From the last kind to the first: a ride keeps the first way it is unusual.
    kinds[km < typical.distance_range[0]] = "short"
    kinds[speed < typical.speed_range[0]] = "slow"
    kinds[speed > typical.speed_range[1]] = "fast"
    kinds[km > typical.distance_range[1]] = "long"
    return kinds


def block_label(block: int) -> str:
    start = block * BLOCK_HOURS
    return f"{start:02d}:00-{start + BLOCK_HOURS:02d}:00"


def ride_facts(anomalies: pd.DataFrame, typical: TypicalRide, day_rides: int) -> RideFacts:
    """The facts of a group of anomalous rides: their blocks, their number of the day's rides,
    and each way they stood out with its median against the day's typical ride."""
    blocks = np.unique(anomalies["pickup_at"].dt.hour.to_numpy() // BLOCK_HOURS)
    kinds = unusual_kinds(anomalies, typical)
    km = anomalies["ride_dist"].to_numpy(dtype=float)
    speed = ride_speeds(anomalies)
    groups = []
    for kind, unit in KINDS.items():
        chosen = kinds == kind
        if not chosen.any():
            continue
        median = typical_value = None
        if unit:
            values = (km if unit == "km" else speed)[chosen]
            values = values[np.isfinite(values)]
            if len(values):
                median = float(np.median(values))
                typical_value = typical.distance if unit == "km" else typical.speed
        groups.append(Unusual(kind, int(chosen.sum()), median, typical_value, unit))
    order = list(KINDS)
    groups.sort(key=lambda group: (-group.rides, order.index(group.kind)))
    return RideFacts(
        blocks=tuple(block_label(int(block)) for block in blocks),
        rides=len(anomalies),
        day_rides=day_rides,
        unusual=tuple(groups),
    )


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
    keys = anomalies[CONTEXT_COLUMNS].astype(str)
    typical = typical_ride(clustered)
    by_context = {
        tuple(key): rows
        for key, rows in anomalies.groupby([keys[c] for c in CONTEXT_COLUMNS], sort=False)
    }
    conditions = [
        RideConditions(
            city, *row, facts=ride_facts(by_context[tuple(row)], typical, len(clustered))
        )
        for row in contexts.itertuples(index=False)
    ]
    results = provider.complete(
        context, [summary_request(item) for item in conditions], force=force
    )
    text_columns = {
        "summary": [r.text for r in results],
        "provider": [r.provider for r in results],
        "model": [r.model for r in results],
        "method": [r.method for r in results],
        "facts": [" ".join(fact_sentences(item.facts, city)) for item in conditions],
    }
    # Typed as strings even on a day without anomalies, so every day's file has one schema.
    summaries = contexts.assign(
        **{name: pd.Series(values, dtype="string") for name, values in text_columns.items()}
    )
    rows = pd.concat([anomalies[["ride_id", "cluster", "ride_dist", "ride_time"]], keys], axis=1)
    merged = rows.merge(summaries, on=CONTEXT_COLUMNS, how="left", validate="many_to_one")
    merged = merged.astype({column: "string" for column in CONTEXT_COLUMNS})
    usage: dict[str, int] = {"anomalies": len(anomalies), "contexts": len(contexts)}
    return merged[SUMMARY_COLUMNS].reset_index(drop=True), usage
