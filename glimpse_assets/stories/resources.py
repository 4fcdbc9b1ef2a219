"""The stories domain's resources, chosen from its settings: `strava_source`."""

from glimpse_assets.settings import secret
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
            client_id=secret("STRAVA_CLIENT_ID", settings.client_id_set),
            client_secret=secret("STRAVA_CLIENT_SECRET", settings.client_secret_set),
            refresh_token=secret("STRAVA_REFRESH_TOKEN", settings.refresh_token_set),
        )
    return SampleActivitySource()


def stories_resources(settings: StoriesSettings) -> dict:
    return {"strava_source": strava_source(settings)}
