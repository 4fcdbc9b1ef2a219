"""The stories domain: its assets, check, jobs, the sensor for new activities, the morning
schedule, and its resource (`strava_source`)."""

from collections.abc import Mapping

import dagster as dg

from glimpse_assets.domains import domain_defs
from glimpse_assets.resources import SharedResources
from glimpse_assets.stories.assets import stories_assets
from glimpse_assets.stories.checks import stories_checks, stories_quality_checks
from glimpse_assets.stories.resources import stories_resources
from glimpse_assets.stories.sensors import (
    build_strava_activities_sensor,
    stories_checks_job,
    stories_daily_schedule,
    stories_job,
)
from glimpse_assets.stories.settings import StoriesSettings


def build_defs(env: Mapping[str, str], shared: SharedResources) -> dg.Definitions:
    settings = StoriesSettings.from_env(env)
    sensor_status = (
        dg.DefaultSensorStatus.RUNNING
        if settings.strava_source == "strava"
        else dg.DefaultSensorStatus.STOPPED
    )
    return dg.Definitions(
        assets=stories_assets,
        asset_checks=[*stories_checks, *stories_quality_checks],
        jobs=[stories_job, stories_checks_job],
        sensors=[build_strava_activities_sensor(sensor_status)],
        schedules=[stories_daily_schedule],
        resources={**shared.resources, **stories_resources(settings)},
    )


defs = domain_defs(build_defs)
