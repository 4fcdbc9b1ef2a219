"""The rides chain every morning: a job over the rides group and its daily schedule."""

import dagster as dg

from glimpse_assets.rides.assets import RIDES_GROUP

rides_job = dg.define_asset_job(
    "rides_job",
    # raw_rides reads the day's headlines, so the job refreshes its upstream raw_news too, but
    # without its blocking check: a day without news still gets its rides report.
    selection=dg.AssetSelection.groups(RIDES_GROUP)
    | dg.AssetSelection.groups(RIDES_GROUP).upstream(depth=1, include_self=False).without_checks(),
    description="The rides lineage for one day, with its checks.",
)

rides_morning_schedule = dg.build_schedule_from_partitioned_job(
    rides_job,
    name="rides_morning_schedule",
    hour_of_day=6,
    minute_of_hour=0,
    description="06:00 UTC every day: the previous day's rides partition.",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
