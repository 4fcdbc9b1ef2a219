"""The news chain every morning: a job over the news group and its daily schedule."""

from datetime import UTC

import dagster as dg

from glimpse_assets.domains import checks_job
from glimpse_assets.news.assets import NEWS_GROUP, news_assets
from glimpse_assets.partitions import last_complete_day

news_job = dg.define_asset_job(
    "news_job",
    selection=dg.AssetSelection.groups(NEWS_GROUP),
    description="The news lineage for one day (and the day's post), with its checks.",
)

news_checks_job = checks_job("news", news_assets)


@dg.schedule(
    name="news_daily_schedule",
    cron_schedule="0 8 * * *",
    execution_timezone="UTC",
    job=news_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="08:00 UTC every day: the previous day's news partition (the newest partition "
    "is today, the day so far: its news is made once it is over).",
)
def news_daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = last_complete_day(context.scheduled_execution_time.astimezone(UTC).date())
    return dg.RunRequest(run_key=f"daily:{day}", partition_key=day)
