"""The search chain's jobs and the sensor that watches its inbox.

Declarative automation runs the chain for a day once a one-day run has stored that day's raw_news
(`automation.follows_upstream_day`). `ingested_documents_sensor` runs search_job for a day whose
inbox changed, which Dagster cannot see: the run key is a hash of the day's document keys, so one
set of documents is indexed once, and a document posted later that day starts another run that
indexes the day again (chunks already indexed stay as they are: upserts are by content-hash id).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from glimpse_assets import partitions
from glimpse_assets.domains import checks_job
from glimpse_assets.search.assets import SEARCH_GROUP, search_assets
from glimpse_assets.search.inbox import day_document_keys
from glimpse_assets.storage.resource import ObjectStoreResource

search_job = dg.define_asset_job(
    "search_job",
    selection=dg.AssetSelection.groups(SEARCH_GROUP),
    description="The search lineage for one day, with its checks: chunks, embeddings, index.",
)

search_checks_job = checks_job("search", search_assets)


def days_to_look_at(today: date, cursor: str | None) -> list[date]:
    """From the day before the last one looked at (a document received just before midnight is
    filed under it) to today."""
    first = date.fromisoformat(cursor) - timedelta(days=1) if cursor else today - timedelta(days=1)
    first = min(first, today)
    return [first + timedelta(days=n) for n in range((today - first).days + 1)]


def inbox_run_key(day: date, keys: list[str]) -> str:
    digest = hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:16]
    return f"inbox:{day.isoformat()}:{len(keys)}:{digest}"


@dg.sensor(
    name="ingested_documents_sensor",
    job=search_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs search_job for a day when documents posted to `glimpse serve` "
    "(POST /documents) for it are not yet indexed.",
)
def ingested_documents_sensor(
    context: dg.SensorEvaluationContext, object_store: ObjectStoreResource
) -> dg.SensorResult:
    today = datetime.now(UTC).date()
    days = days_to_look_at(today, context.cursor)
    days_defined = set(partitions.daily_partitions.get_partition_keys())
    requests = []
    for day in days:
        keys = day_document_keys(object_store.store, day)
        if keys and day.isoformat() in days_defined:
            requests.append(
                dg.RunRequest(
                    run_key=inbox_run_key(day, keys),
                    partition_key=day.isoformat(),
                    tags={"glimpse/ingested_documents": str(len(keys))},
                )
            )
    cursor = today.isoformat()
    if not requests:
        return dg.SensorResult(
            skip_reason="no ingested documents on " + ", ".join(map(str, days)), cursor=cursor
        )
    return dg.SensorResult(run_requests=requests, cursor=cursor)
