"""The news domain: its assets, checks, job, schedule and resources (`news_source`)."""

from collections.abc import Mapping

import dagster as dg

from glimpse_assets.domains import domain_defs
from glimpse_assets.news.assets import news_assets
from glimpse_assets.news.checks import news_checks, news_quality_checks
from glimpse_assets.news.resources import news_resources
from glimpse_assets.news.schedules import news_checks_job, news_daily_schedule, news_job
from glimpse_assets.news.settings import NewsSettings
from glimpse_assets.resources import SharedResources


def build_defs(env: Mapping[str, str], shared: SharedResources) -> dg.Definitions:
    checks = [*news_checks, *news_quality_checks]
    # Moderation needs a moderation model: checked with the openai provider only, unless
    # GLIMPSE_MODERATION=off (for OpenAI-compatible servers without /v1/moderations).
    if shared.providers.kind == "openai" and shared.providers.moderation == "on":
        from glimpse_assets.news.moderation import moderation_checks

        checks += moderation_checks
    return dg.Definitions(
        assets=news_assets,
        asset_checks=checks,
        jobs=[news_job, news_checks_job],
        schedules=[news_daily_schedule],
        resources={**shared.resources, **news_resources(NewsSettings.from_env(env))},
    )


defs = domain_defs(build_defs)
