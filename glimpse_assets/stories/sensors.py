"""What starts the stories chain: new activities (a sensor) and a morning re-run (a schedule).

`strava_activities_sensor` asks the source, every 10 minutes, for activities that started after
its cursor (the newest start it has seen) and requests one `stories_job` run per day they
started on. The run key names the day and the activities, so an activity triggers one run, ever;
the cursor only moves forward. An activity uploaded late with an older start is not newer than
the cursor: `stories_daily_schedule` re-runs yesterday at 07:00 UTC for those, and a backfill
covers older days. The sensor is on by default for Strava, off for the offline sample (which
has nothing new to tell).
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import dagster as dg

from glimpse_assets.domains import checks_job
from glimpse_assets.partitions import daily_partitions
from glimpse_assets.storage.resource import ObjectStoreResource
from glimpse_assets.stories.assets import STORIES_GROUP, stories_assets
from glimpse_assets.stories.sources import TOKENS_PREFIX, ActivitySource, start_epoch, utc_day

SENSOR_INTERVAL_SECONDS = 600
# Without a cursor (the first tick), look back this far: yesterday's late uploads and today's.
FIRST_LOOK_BACK_SECONDS = 2 * 86_400

stories_job = dg.define_asset_job(
    "stories_job",
    selection=dg.AssetSelection.groups(STORIES_GROUP),
    description="The stories lineage for one day, with its check: activities, stories.",
)

stories_checks_job = checks_job("stories", stories_assets)


def activity_run_key(day: str, activity_ids: list[int]) -> str:
    digest = hashlib.sha256(",".join(map(str, sorted(activity_ids))).encode()).hexdigest()[:16]
    return f"activities:{day}:{len(activity_ids)}:{digest}"


def new_activity_requests(
    activities: list[dict], cursor: int, partitions: set[str]
) -> tuple[list[dg.RunRequest], int]:
    """One run request per day with activities that started after `cursor`, and the new cursor
    (the newest start seen, never earlier than the old one)."""
    by_day: dict[str, list[int]] = defaultdict(list)
    newest = cursor
    for activity in activities:
        started = start_epoch(activity)
        if started <= cursor:
            continue  # an `after` that includes its bound, or a second look at the same one
        newest = max(newest, started)
        by_day[utc_day(activity["start_date"]).isoformat()].append(int(activity["id"]))
    requests = [
        dg.RunRequest(
            run_key=activity_run_key(day, ids),
            partition_key=day,
            tags={"glimpse/new_activities": str(len(ids))},
        )
        for day, ids in sorted(by_day.items())
        if day in partitions
    ]
    return requests, newest


def build_strava_activities_sensor(
    default_status: dg.DefaultSensorStatus, clock: Callable[[], float] = time.time
) -> dg.SensorDefinition:
    @dg.sensor(
        name="strava_activities_sensor",
        job=stories_job,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=default_status,
        description="Every 10 minutes: runs stories_job for each day with activities newer "
        "than the last one seen (once per activity). On by default for Strava, off for the "
        "sample.",
    )
    def strava_activities_sensor(
        context: dg.SensorEvaluationContext,
        strava_source: ActivitySource,
        object_store: ObjectStoreResource,
    ) -> dg.SensorResult:
        from glimpse_assets.stories.strava import StravaRateLimitError

        now = int(clock())
        cursor = int(context.cursor) if context.cursor else now - FIRST_LOOK_BACK_SECONDS
        try:
            found = strava_source.activities_between(
                cursor, now + 1, object_store.records(TOKENS_PREFIX), wait=False
            )
        except StravaRateLimitError as error:
            return dg.SensorResult(skip_reason=f"not asked this tick: {error}")
        partitions = set(daily_partitions.get_partition_keys())
        requests, newest = new_activity_requests(found, cursor, partitions)
        if not requests:
            since = datetime.fromtimestamp(cursor, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            return dg.SensorResult(
                skip_reason=f"no {strava_source.kind} activity started after {since}",
                cursor=str(newest),
            )
        return dg.SensorResult(run_requests=requests, cursor=str(newest))

    return strava_activities_sensor


@dg.schedule(
    name="stories_daily_schedule",
    cron_schedule="0 7 * * *",
    execution_timezone="UTC",
    job=stories_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="07:00 UTC every day: the previous day's stories again, for activities "
    "uploaded after the day ended (stories already written come from the cache).",
)
def stories_daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = (context.scheduled_execution_time.astimezone(UTC) - timedelta(days=1)).date()
    return dg.RunRequest(run_key=f"daily:{day.isoformat()}", partition_key=day.isoformat())
