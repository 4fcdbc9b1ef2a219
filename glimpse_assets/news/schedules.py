"""The news chain every morning: a job over the news group and its daily schedule."""

import dagster as dg

from glimpse_assets.domains import checks_job
from glimpse_assets.news.assets import NEWS_GROUP, news_assets

news_job = dg.define_asset_job(
    "news_job",
    selection=dg.AssetSelection.groups(NEWS_GROUP),
    description="The news lineage for one day (and the day's post), with its checks.",
)

news_checks_job = checks_job("news", news_assets)

news_daily_schedule = dg.build_schedule_from_partitioned_job(
    news_job,
    name="news_daily_schedule",
    hour_of_day=8,
    minute_of_hour=0,
    description="08:00 UTC every day: the previous day's news partition.",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
