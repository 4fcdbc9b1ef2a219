"""Asset checks for the stories lineage."""

import dagster as dg

from glimpse_assets.asset_defaults import daily_asset_check
from glimpse_assets.ranges import check_each_day
from glimpse_assets.skipped_checks import NothingToCheck
from glimpse_assets.stories.assets import activity_stories, strava_activities


@daily_asset_check(
    asset=activity_stories,
    blocking=True,
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


@daily_asset_check(asset=activity_stories)
def activity_stories_vary(
    context: dg.AssetCheckExecutionContext, activity_stories
) -> dg.AssetCheckResult | NothingToCheck:
    """Story variety, measured daily: the MiniLM cosine similarity of the day's most alike pair
    of stories, wanted <= 0.95 (a story copied with one number changed scores about 0.99). A
    warning above; skipped on a day of fewer than two stories."""
    from glimpse_assets.stories.quality import variety_check

    return check_each_day(context, variety_check, activity_stories=activity_stories)


stories_checks = [activity_stories_use_real_numbers]
# Quality measured daily (glimpse_assets/quality): registered beside stories_checks.
stories_quality_checks = [activity_stories_vary]
