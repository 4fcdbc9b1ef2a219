"""The publish domain: the day's post (`social_post`) and its caption's quality check, failure
notices and their resources (`news_publisher`, `publish_notifier`)."""

from collections.abc import Mapping

import dagster as dg

from glimpse_assets.domains import domain_defs
from glimpse_assets.publish.assets import social_post
from glimpse_assets.publish.checks import publish_checks_job, publish_quality_checks
from glimpse_assets.publish.resources import publish_resources
from glimpse_assets.publish.sensors import notify_on_run_failure
from glimpse_assets.publish.settings import PublishSettings
from glimpse_assets.resources import SharedResources


def build_defs(env: Mapping[str, str], shared: SharedResources) -> dg.Definitions:
    settings = PublishSettings.from_env(env)
    return dg.Definitions(
        assets=[social_post],
        asset_checks=publish_quality_checks,
        jobs=[publish_checks_job],
        sensors=[notify_on_run_failure],
        resources={**shared.resources, **publish_resources(settings, shared.object_store)},
    )


defs = domain_defs(build_defs)
