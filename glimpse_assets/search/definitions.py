"""The search domain: its assets, check, jobs, the sensors that start it (the day's news, new
ingested documents), and its resource (`vector_index`). The embedder is shared (`embedder`)."""

from collections.abc import Mapping

import dagster as dg

from glimpse_assets.domains import lazy_defs
from glimpse_assets.resources import SharedResources
from glimpse_assets.search.assets import search_assets
from glimpse_assets.search.checks import search_checks
from glimpse_assets.search.resources import search_resources
from glimpse_assets.search.sensors import (
    ingested_documents_sensor,
    search_after_news_sensor,
    search_checks_job,
    search_job,
)
from glimpse_assets.search.settings import SearchSettings


def build_defs(env: Mapping[str, str], shared: SharedResources) -> dg.Definitions:
    return dg.Definitions(
        assets=search_assets,
        asset_checks=search_checks,
        jobs=[search_job, search_checks_job],
        sensors=[search_after_news_sensor, ingested_documents_sensor],
        resources={
            **shared.resources,
            **search_resources(shared.object_store, SearchSettings.from_env(env)),
        },
    )


__getattr__ = lazy_defs(build_defs)
