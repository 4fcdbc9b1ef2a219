"""The search domain: its assets (automated after the day's news), check, jobs, the sensor that
starts it for newly ingested documents, and its resource (`vector_index`). The embedder is shared
(`embedder`)."""

from collections.abc import Mapping

import dagster as dg

from glimpse_assets.automation import automation_sensor, bind_automation
from glimpse_assets.domains import domain_defs
from glimpse_assets.resources import SharedResources
from glimpse_assets.search.assets import search_assets
from glimpse_assets.search.checks import search_checks, search_quality_checks
from glimpse_assets.search.resources import search_resources
from glimpse_assets.search.sensors import (
    ingested_documents_sensor,
    search_checks_job,
    search_job,
)
from glimpse_assets.search.settings import SearchSettings


def build_defs(env: Mapping[str, str], shared: SharedResources) -> dg.Definitions:
    return dg.Definitions(
        assets=bind_automation(search_assets, shared.object_store),
        asset_checks=[*search_checks, *search_quality_checks],
        jobs=[search_job, search_checks_job],
        sensors=[automation_sensor, ingested_documents_sensor],
        resources={
            **shared.resources,
            **search_resources(shared.object_store, SearchSettings.from_env(env)),
        },
    )


defs = domain_defs(build_defs)
