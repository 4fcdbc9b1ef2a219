"""The stories domain's settings: where activities come from (the shipped sample or Strava).

The Strava app's client id, secret and refresh token are secrets: only whether each is set is
read here; the resource reads them through `env_var` when a step or the sensor runs.
"""

from pydantic import Field

from glimpse_assets.settings import HttpUrl, Secret, Settings, choice

DEFAULT_API_URL = "https://www.strava.com"  # /oauth/token and /api/v3/... below it


class StoriesSettings(Settings):
    """Where the athlete's activities come from: the shipped sample or the Strava API."""

    strava_source: choice("sample", "strava") = Field(
        "sample",
        alias="GLIMPSE_STRAVA_SOURCE",
        description="`sample` (invented activities shipped with the package, offline) or "
        "`strava` (your Strava account, through your Strava app).",
    )
    strava_api_url: HttpUrl = Field(
        DEFAULT_API_URL,
        alias="STRAVA_API_URL",
        description="Strava's base URL (`/oauth/token` and `/api/v3/athlete/activities` below it).",
    )
    client_id_set: Secret = Field(
        False, alias="STRAVA_CLIENT_ID", description="Your Strava app's client id, for `strava`."
    )
    client_secret_set: Secret = Field(
        False,
        alias="STRAVA_CLIENT_SECRET",
        description="Your Strava app's client secret, for `strava`.",
    )
    refresh_token_set: Secret = Field(
        False,
        alias="STRAVA_REFRESH_TOKEN",
        description="A first refresh token, for `strava`; Strava rotates it, and the newest is "
        "kept in the object store.",
    )
