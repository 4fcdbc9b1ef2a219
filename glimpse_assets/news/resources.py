"""The news domain's resources, chosen from its settings: `news_source`."""

from glimpse_assets.news.settings import NewsSettings
from glimpse_assets.news.sources import (
    CurrentsNewsSource,
    NewsSource,
    RssNewsSource,
    SampleNewsSource,
)


def news_source(settings: NewsSettings) -> NewsSource:
    if settings.news_source == "currents":
        return CurrentsNewsSource(
            api_key=settings.env_var("currents_api_key_set"),
            base_url=settings.currents_api_url,
            language=settings.language,
            category=settings.category,
        )
    if settings.news_source == "rss":
        return RssNewsSource(feed_urls=settings.rss_feeds)
    return SampleNewsSource()


def news_resources(settings: NewsSettings) -> dict:
    return {"news_source": news_source(settings)}
