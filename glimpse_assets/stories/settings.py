"""The stories domain's settings: where activities come from (the shipped sample or Strava).

The Strava app's client id, secret and refresh token are secrets: only whether each is set is
read here; the resource reads them through `dg.EnvVar` when a step or the sensor runs.
"""

from pydantic import Field

from glimpse_assets.settings import HttpUrl, IsSet, Settings, choice
from glimpse_assets.stories.sources import DEFAULT_API_URL


class StoriesSettings(Settings):
    strava_source: choice("sample", "strava") = Field("sample", alias="GLIMPSE_STRAVA_SOURCE")
    strava_api_url: HttpUrl = Field(DEFAULT_API_URL, alias="STRAVA_API_URL")
    client_id_set: IsSet = Field(False, alias="STRAVA_CLIENT_ID")
    client_secret_set: IsSet = Field(False, alias="STRAVA_CLIENT_SECRET")
    refresh_token_set: IsSet = Field(False, alias="STRAVA_REFRESH_TOKEN")
