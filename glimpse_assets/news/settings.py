"""The news domain's settings: where the day's articles come from.
CURRENTS_API_KEY is a secret: the Currents source reads it at run time through EnvVar."""

from pydantic import Field

from glimpse_assets.settings import CommaList, HttpUrl, IsSet, Settings, choice


class NewsSettings(Settings):
    news_source: choice("sample", "currents", "rss") = Field("sample", alias="GLIMPSE_NEWS_SOURCE")
    currents_api_key_set: IsSet = Field(False, alias="CURRENTS_API_KEY")
    currents_api_url: HttpUrl = Field("https://api.currentsapi.services", alias="CURRENTS_API_URL")
    language: str = Field("en", alias="GLIMPSE_NEWS_LANGUAGE")
    category: str | None = Field(None, alias="GLIMPSE_NEWS_CATEGORY")
    rss_feeds: CommaList = Field(default_factory=list, alias="GLIMPSE_RSS_FEEDS")
