"""The news domain's settings: where the day's articles come from.
CURRENTS_API_KEY is a secret: the Currents source reads it at run time through `env_var`."""

from pydantic import Field

from glimpse_assets.settings import CommaList, HttpUrl, Secret, Settings, choice


class NewsSettings(Settings):
    """Where the day's articles come from."""

    news_source: choice("sample", "currents", "rss") = Field(
        "sample",
        alias="GLIMPSE_NEWS_SOURCE",
        description="`sample` (invented articles shipped with the package, offline), `currents` "
        "(the Currents API) or `rss` (RSS/Atom feeds).",
    )
    currents_api_key_set: Secret = Field(
        False,
        alias="CURRENTS_API_KEY",
        description="Your Currents API key, for `currents` (sent in the Authorization header, "
        "never in a URL).",
    )
    currents_api_url: HttpUrl = Field(
        "https://api.currentsapi.services",
        alias="CURRENTS_API_URL",
        description="The Currents API's base URL.",
    )
    language: str = Field(
        "en", alias="GLIMPSE_NEWS_LANGUAGE", description="The articles' language, for `currents`."
    )
    category: str | None = Field(
        None,
        alias="GLIMPSE_NEWS_CATEGORY",
        description="A Currents category, for `currents`; unset: every category.",
    )
    rss_feeds: CommaList = Field(
        default_factory=list,
        alias="GLIMPSE_RSS_FEEDS",
        description="The RSS or Atom feeds' URLs, for `rss`.",
    )
