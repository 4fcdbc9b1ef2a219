"""The stories domain's resources, chosen from its settings: `strava_source`."""

from glimpse_assets.stories.settings import StoriesSettings
from glimpse_assets.stories.sources import (
    ActivitySource,
    SampleActivitySource,
    StravaActivitySource,
)


def strava_source(settings: StoriesSettings) -> ActivitySource:
    if settings.strava_source == "strava":
        return StravaActivitySource(
            api_url=settings.strava_api_url,
            client_id=settings.env_var("client_id_set"),
            client_secret=settings.env_var("client_secret_set"),
            refresh_token=settings.env_var("refresh_token_set"),
        )
    return SampleActivitySource()


def stories_resources(settings: StoriesSettings) -> dict:
    return {"strava_source": strava_source(settings)}
