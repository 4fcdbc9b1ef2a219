"""Asset checks for the stories lineage."""

import dagster as dg

from glimpse_assets.partitions import daily_partitions
from glimpse_assets.ranges import check_each_day
from glimpse_assets.stories.assets import activity_stories, strava_activities


@dg.asset_check(
    asset=activity_stories,
    blocking=True,
    partitions_def=daily_partitions,
    additional_ins={"strava_activities": dg.AssetIn(key=strava_activities.key)},
)
def activity_stories_use_real_numbers(
    context: dg.AssetCheckExecutionContext, activity_stories, strava_activities
) -> dg.AssetCheckResult:
    """One story per activity, and no number in it that the activity does not have: a story
    that invents a distance fails, and blocks what reads the stories. Blocking."""
    from glimpse_assets.stories.steps import real_numbers_check

    return check_each_day(
        context,
        real_numbers_check,
        activity_stories=activity_stories,
        strava_activities=strava_activities,
    )


stories_checks = [activity_stories_use_real_numbers]
