"""Chains that read the day's news start when the news chain has stored it.

raw_news belongs to the news chain: news_job (news_daily_schedule) is the one run that fetches
it, so each news source is asked once a day and every chain reads the headlines the news chain
stored. `after_news_sensor(name, job)` starts `job` for a day as soon as a one-day news_job run
has stored that day's raw_news, whether or not raw_news' own blocking check then passes, and only
if this storage holds it (an instance's event log can name days that another storage, or a
storage since cleaned, holds: a run for them could only fail).

Range runs and backfills of news_job start nothing: backfill the other chain with its own
backfill, which reads the stored raw_news of each day.
"""

import dagster as dg

from glimpse_assets.news.schedules import news_job
from glimpse_assets.storage.io_manager import object_stem
from glimpse_assets.storage.object_store import ObjectStore
from glimpse_assets.storage.resource import ObjectStoreResource

RAW_NEWS = dg.AssetKey("raw_news")
RANGE_TAGS = ("dagster/backfill", "dagster/asset_partition_range_start")
RECORDS_PER_TICK = 100


def is_one_day_news_run(run: dg.DagsterRun | None) -> bool:
    return (
        run is not None
        and run.job_name == news_job.name
        and not any(tag in run.tags for tag in RANGE_TAGS)
    )


def stored_days(store: ObjectStore, asset_key: dg.AssetKey) -> set[str]:
    """The days the storage holds `asset_key`'s object for (whatever its format): one listing of
    the asset's folder."""
    folder = object_stem(asset_key, None)
    return {key[len(folder) + 1 :].split(".")[0] for key in store.list(folder)}


def after_news_sensor(
    name: str,
    job,
    asset_key: dg.AssetKey = RAW_NEWS,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    """`job` for each day a one-day news_job run stored `asset_key` for (raw_news by default;
    any asset news_job materialises)."""
    what = asset_key.to_user_string()

    @dg.sensor(
        name=name,
        job=job,
        minimum_interval_seconds=60,
        default_status=default_status,
        description=f"Runs {job.name} for a day once a one-day news_job run has stored its {what}.",
    )
    def _sensor(
        context: dg.SensorEvaluationContext, object_store: ObjectStoreResource
    ) -> dg.SensorResult:
        instance = context.instance
        if context.cursor:
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=asset_key, after_storage_id=int(context.cursor)),
                limit=RECORDS_PER_TICK,
                ascending=True,
            ).records
        else:
            # A first tick looks at the newest raw_news only, rather than at every past day's.
            records = instance.fetch_materializations(asset_key, limit=1).records
        if not records:
            return dg.SensorResult(skip_reason=f"no new {what} materialisation")
        run_ids = sorted({record.run_id for record in records})
        runs = {run.run_id: run for run in instance.get_runs(dg.RunsFilter(run_ids=run_ids))}
        followed = [
            record
            for record in records
            if record.partition_key is not None and is_one_day_news_run(runs.get(record.run_id))
        ]
        held = stored_days(object_store.store, asset_key) if followed else set()
        stored = [record for record in followed if record.partition_key in held]
        requests = [
            # One run per news run and day: a re-executed news run asks again, a tick does not.
            dg.RunRequest(
                run_key=f"{record.partition_key}:{record.run_id}",
                partition_key=record.partition_key,
                tags={"glimpse/after_news_run": record.run_id},
            )
            for record in stored
        ]
        cursor = str(max(record.storage_id for record in records))
        if not requests:
            missing = sorted(
                {r.partition_key for r in followed} - {r.partition_key for r in stored}
            )
            why = (
                f"{what} of {', '.join(missing)} is not in this storage"
                if missing
                else f"new {what} came from a backfill, a range run or another job"
            )
            return dg.SensorResult(skip_reason=why, cursor=cursor)
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return _sensor
