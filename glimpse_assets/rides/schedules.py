"""The rides chain every morning: a job over the rides group, started by the day's news.

raw_rides reads the day's raw_news headlines, but raw_news belongs to the news chain: news_job
(news_daily_schedule) is the one run that fetches it, so each news source is asked once a day
and the headlines a rides report shows are the ones the news chain stored. rides_job therefore
does not include raw_news; `rides_after_news_sensor` starts it for a day as soon as a one-day
news_job run has stored that day's raw_news, whether or not raw_news' own blocking check then
passes (a day without news still gets its rides report).

Range runs and backfills of news_job start nothing: backfill rides with a rides backfill, which
reads the stored raw_news of each day.
"""

import dagster as dg

from glimpse_assets.domains import checks_job
from glimpse_assets.news.schedules import news_job
from glimpse_assets.rides.assets import RIDES_GROUP, rides_assets

RAW_NEWS = dg.AssetKey("raw_news")
RANGE_TAGS = ("dagster/backfill", "dagster/asset_partition_range_start")
RECORDS_PER_TICK = 100

rides_job = dg.define_asset_job(
    "rides_job",
    selection=dg.AssetSelection.groups(RIDES_GROUP),
    description="The rides lineage for one day, with its checks; reads the stored raw_news.",
)

rides_checks_job = checks_job("rides", rides_assets)


def is_one_day_news_run(run: dg.DagsterRun | None) -> bool:
    return (
        run is not None
        and run.job_name == news_job.name
        and not any(tag in run.tags for tag in RANGE_TAGS)
    )


@dg.sensor(
    name="rides_after_news_sensor",
    job=rides_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs rides_job for a day once a one-day news_job run has stored its raw_news.",
)
def rides_after_news_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    instance = context.instance
    if context.cursor:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=RAW_NEWS, after_storage_id=int(context.cursor)),
            limit=RECORDS_PER_TICK,
            ascending=True,
        ).records
    else:
        # A first tick looks at the newest raw_news only, rather than at every past day's.
        records = instance.fetch_materializations(RAW_NEWS, limit=1).records
    if not records:
        return dg.SensorResult(skip_reason="no new raw_news materialisation")
    run_ids = sorted({record.run_id for record in records})
    runs = {run.run_id: run for run in instance.get_runs(dg.RunsFilter(run_ids=run_ids))}
    requests = [
        # One rides run per news run and day: a re-executed news run asks again, a tick does not.
        dg.RunRequest(
            run_key=f"{record.partition_key}:{record.run_id}",
            partition_key=record.partition_key,
            tags={"glimpse/after_news_run": record.run_id},
        )
        for record in records
        if record.partition_key is not None and is_one_day_news_run(runs.get(record.run_id))
    ]
    cursor = str(max(record.storage_id for record in records))
    if not requests:
        return dg.SensorResult(
            skip_reason="new raw_news came from a backfill, a range run or another job",
            cursor=cursor,
        )
    return dg.SensorResult(run_requests=requests, cursor=cursor)
