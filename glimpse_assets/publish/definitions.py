"""The publish domain: the day's post (`social_post`), failure notices and their resources
(`news_publisher`, `publish_notifier`)."""

from collections.abc import Mapping

import dagster as dg

from glimpse_assets.domains import lazy_defs
from glimpse_assets.publish.assets import social_post
from glimpse_assets.publish.resources import publish_resources
from glimpse_assets.publish.sensors import notify_on_run_failure
from glimpse_assets.publish.settings import PublishSettings
from glimpse_assets.resources import SharedResources


def build_defs(env: Mapping[str, str], shared: SharedResources) -> dg.Definitions:
    settings = PublishSettings.from_env(env)
    return dg.Definitions(
        assets=[social_post],
        sensors=[notify_on_run_failure],
        resources={**shared.resources, **publish_resources(settings, shared.object_store)},
    )


__getattr__ = lazy_defs(build_defs)
