"""The stories lineage: strava_activities -> activity_stories (thin assets).

Days are the activities' UTC start dates and run to today, so the sensor can tell today's
stories as activities are uploaded; `stories_daily_schedule` runs the day before again in the
morning for late uploads.
"""

from functools import partial

import dagster as dg

from glimpse_assets.asset_defaults import daily_asset
from glimpse_assets.llm.policy import LLMStepConfig
from glimpse_assets.providers.base import TextProvider
from glimpse_assets.ranges import for_each_day
from glimpse_assets.storage.resource import ObjectStoreResource
from glimpse_assets.stories.sources import TOKENS_PREFIX, ActivitySource

STORIES_GROUP = "stories"


@daily_asset(
    domain=STORIES_GROUP,
    kinds={"strava", "pandas", "parquet"},
    description="The activities that started on the day (UTC), from the sample or Strava, in "
    "km, minutes, metres and km/h; each activity id once.",
)
def strava_activities(
    context: dg.AssetExecutionContext,
    strava_source: ActivitySource,
    object_store: ObjectStoreResource,
):
    from glimpse_assets.stories.steps import activities_for_day

    tokens = object_store.records(TOKENS_PREFIX)
    return for_each_day(context, partial(activities_for_day, context, strava_source, tokens))


@daily_asset(
    domain=STORIES_GROUP,
    kinds={"openai", "pandas", "parquet"},
    calls_a_model=True,
    description="A title (at most 60 characters) and a story of 40 to 60 words for each "
    "activity, from its own numbers; each activity's day is indexed by id under _activities/.",
)
def activity_stories(
    context: dg.AssetExecutionContext,
    config: LLMStepConfig,
    strava_activities,
    text_provider: TextProvider,
    object_store: ObjectStoreResource,
):
    from glimpse_assets.stories.steps import stories_for_day

    return for_each_day(
        context,
        partial(stories_for_day, context, text_provider, object_store.store, config.force),
        strava_activities=strava_activities,
    )


stories_assets = [strava_activities, activity_stories]
