"""The rides domain: its assets (automated after the day's news), checks, jobs, and its
resources (`rides_source`)."""

from collections.abc import Mapping

import dagster as dg

from glimpse_assets.automation import automation_sensor, bind_automation
from glimpse_assets.domains import domain_defs
from glimpse_assets.resources import SharedResources
from glimpse_assets.rides.assets import rides_assets
from glimpse_assets.rides.checks import rides_checks, rides_quality_checks
from glimpse_assets.rides.jobs import rides_checks_job, rides_job
from glimpse_assets.rides.resources import rides_resources
from glimpse_assets.rides.settings import RidesSettings


def build_defs(env: Mapping[str, str], shared: SharedResources) -> dg.Definitions:
    return dg.Definitions(
        assets=bind_automation(rides_assets, shared.object_store),
        asset_checks=[*rides_checks, *rides_quality_checks],
        jobs=[rides_job, rides_checks_job],
        sensors=[automation_sensor],
        resources={**shared.resources, **rides_resources(RidesSettings.from_env(env))},
    )


defs = domain_defs(build_defs)
