"""The rides domain: its assets, checks, job, the sensor that starts it after the day's news, and
its resources (`rides_source`)."""

from collections.abc import Mapping

import dagster as dg

from glimpse_assets.domains import lazy_defs
from glimpse_assets.resources import SharedResources
from glimpse_assets.rides.assets import rides_assets
from glimpse_assets.rides.checks import rides_checks
from glimpse_assets.rides.resources import rides_resources
from glimpse_assets.rides.schedules import rides_after_news_sensor, rides_checks_job, rides_job
from glimpse_assets.rides.settings import RidesSettings


def build_defs(env: Mapping[str, str], shared: SharedResources) -> dg.Definitions:
    return dg.Definitions(
        assets=rides_assets,
        asset_checks=rides_checks,
        jobs=[rides_job, rides_checks_job],
        sensors=[rides_after_news_sensor],
        resources={**shared.resources, **rides_resources(RidesSettings.from_env(env))},
    )


__getattr__ = lazy_defs(build_defs)
