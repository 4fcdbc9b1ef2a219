"""Where the day's news comes from: one resource interface, three implementations.

Each source returns articles in the Currents API article shape (id, title, description, url,
author, image, language, category, published); `articles.articles_to_frame` normalises them.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from glimpse_assets.days import day_bounds, day_seed
from glimpse_assets.llm.guardrails import redact_outside_text, redact_url
from glimpse_assets.news.settings import NewsSettings
from glimpse_assets.settings import setting

if TYPE_CHECKING:
    import requests


class NewsSourceError(RuntimeError):
    """A news source could not deliver the day's articles; the message says why."""


@dataclass
class NewsBatch:
    articles: list[dict[str, Any]]
    details: dict[str, Any] = field(default_factory=dict)


class NewsSource(dg.ConfigurableResource, ABC):
    @property
    @abstractmethod
    def kind(self) -> str:
        """Short name stored in the `source` column."""

    @abstractmethod
    def fetch_day(self, day: date) -> NewsBatch:
        """The articles published on `day` (UTC)."""


# -- sample: offline, deterministic --------------------------------------------------------


@cache
def sample_pool() -> tuple[dict[str, Any], ...]:
    text = resources.files("glimpse_assets.data").joinpath("sample_news.json").read_text("utf-8")
    return tuple(json.loads(text)["articles"])


def _draw(
    day: date,
    pool: tuple[dict[str, Any], ...],
    min_articles: int,
    max_articles: int,
    excluded: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """The day's seeded draw from the pool, leaving out the articles whose ids are `excluded`
    (unless that would leave nothing to draw)."""
    rng = random.Random(day_seed(day, "news"))
    available = [i for i, item in enumerate(pool) if item["id"] not in excluded]
    available = available or list(range(len(pool)))
    count = min(len(available), rng.randint(min_articles, max_articles))
    picks = rng.sample(available, count)
    start, _ = day_bounds(day)
    seconds = sorted(rng.randrange(86_400) for _ in picks)
    articles = []
    for index, offset in zip(picks, seconds, strict=True):
        article = dict(pool[index])
        article["id"] = f"{article['id']}-{day:%Y%m%d}"
        article["published"] = (start + timedelta(seconds=offset)).strftime("%Y-%m-%d %H:%M:%S %z")
        articles.append(article)
    return articles


class _Pool:
    """A pool as a cache key: equal when the articles are (a test may pass its own pool)."""

    def __init__(self, pool: tuple[dict[str, Any], ...]) -> None:
        self.articles = pool
        text = json.dumps(pool, sort_keys=True, ensure_ascii=False, default=str)
        self.digest = hashlib.sha256(text.encode("utf-8")).hexdigest()

    def __hash__(self) -> int:
        return hash(self.digest)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Pool) and other.digest == self.digest


def _main_story(articles: list[dict[str, Any]], day: date) -> str:
    """The pool id of the article the day's digest makes its main story."""
    # Imported here: the digest's ranking brings pandas and numpy, which only a step
    # drawing the sample news should load.
    from glimpse_assets.news.articles import articles_to_frame
    from glimpse_assets.news.digest import main_story_id

    frame, _ = articles_to_frame(articles, "sample", day)
    return main_story_id(frame).removesuffix(f"-{day:%Y%m%d}")


@lru_cache(maxsize=512)
def _day_main_story(day: date, pool: _Pool, min_articles: int, max_articles: int) -> str:
    excluded = _excluded_main_stories(day, pool, min_articles, max_articles)
    return _main_story(_draw(day, pool.articles, min_articles, max_articles, excluded), day)


def _excluded_main_stories(
    day: date, pool: _Pool, min_articles: int, max_articles: int
) -> frozenset[str]:
    """The main stories of the week's earlier days (Monday to Sunday), and on a Sunday also the
    next Monday's: a Monday's draw excludes nothing, so no chain reaches further back."""
    monday = day - timedelta(days=day.weekday())
    earlier = [monday + timedelta(days=n) for n in range(day.weekday())]
    if day.weekday() == 6:
        earlier.append(day + timedelta(days=1))
    return frozenset(_day_main_story(d, pool, min_articles, max_articles) for d in earlier)


def sample_articles_for_day(
    day: date, pool: tuple[dict[str, Any], ...], min_articles: int = 8, max_articles: int = 14
) -> list[dict[str, Any]]:
    """A deterministic draw from the pool: the same day always gives the same articles.

    The digest's main story (its most central article, see `digest`) changes every day: a day
    draws from the pool without the main stories of the earlier days of its week (Monday to
    Sunday), and a Sunday also without the next Monday's, so no two days of a week, and no two
    consecutive days, share a main story (given a pool of more than 7 articles).
    """
    key = _Pool(pool)
    excluded = _excluded_main_stories(day, key, min_articles, max_articles)
    return _draw(day, pool, min_articles, max_articles, excluded)


class SampleNewsSource(NewsSource):
    """Offline: a shipped pool of invented articles, drawn per day by a seed from the date."""

    min_articles: int = Field(default=8, ge=1)
    max_articles: int = Field(default=14, ge=1)

    @property
    def kind(self) -> str:
        return "sample"

    def fetch_day(self, day: date) -> NewsBatch:
        articles = sample_articles_for_day(day, sample_pool(), self.min_articles, self.max_articles)
        return NewsBatch(articles, {"pool_size": len(sample_pool()), "fictional": True})


# -- currents: the Currents API -------------------------------------------------------------


class CurrentsNewsSource(NewsSource):
    """The Currents API `/v1/search`, paged, for the partition's UTC day."""

    api_key: str | None = setting(NewsSettings, "currents_api_key_set")
    base_url: str = setting(NewsSettings, "currents_api_url")
    language: str = setting(NewsSettings, "language")
    category: str | None = setting(NewsSettings, "category")
    page_size: int = Field(default=100, ge=1, le=200)
    max_pages: int = Field(default=10, ge=1)
    timeout_seconds: float = 30.0
    max_retries: int = Field(default=4, ge=0)
    backoff_seconds: float = Field(default=1.0, ge=0)

    @property
    def kind(self) -> str:
        return "currents"

    def fetch_day(self, day: date) -> NewsBatch:
        if not self.api_key:
            raise NewsSourceError("GLIMPSE_NEWS_SOURCE=currents needs CURRENTS_API_KEY")
        start, end = day_bounds(day)
        params: dict[str, Any] = {
            "language": self.language,
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "page_size": self.page_size,
        }
        if self.category:
            params["category"] = self.category
        from glimpse_assets.http import retrying_session

        articles: list[dict[str, Any]] = []
        pages = 0
        with retrying_session(self.max_retries, self.backoff_seconds) as session:
            # The key travels in a header, so it never shows in a URL, a log line or an error.
            session.headers["Authorization"] = self.api_key
            for page in range(1, self.max_pages + 1):
                news = self._fetch_page(session, {**params, "page_number": page})
                pages += 1
                articles.extend(news)
                if len(news) < self.page_size:
                    break
        truncated = pages == self.max_pages and len(articles) == pages * self.page_size
        return NewsBatch(articles, {"pages": pages, "possibly_truncated": truncated})

    def _error(self, text: str, *urls: str) -> NewsSourceError:
        """An error whose text, built from the API's answer or an exception, shows neither the
        key (an API may echo it) nor credentials in the base URL."""
        return NewsSourceError(redact_outside_text(text, [self.api_key], [self.base_url, *urls]))

    def _fetch_page(self, session: requests.Session, params: dict[str, Any]) -> list[dict]:
        import requests

        from glimpse_assets.http import error_message

        url = f"{self.base_url.rstrip('/')}/v1/search"
        page = params["page_number"]
        try:
            response = session.get(url, params=params, timeout=self.timeout_seconds)
        except requests.RequestException as error:
            raise self._error(f"Currents API unreachable at {url}: {error}", url) from None
        if response.status_code != 200:
            hint = " Check CURRENTS_API_KEY." if response.status_code in (401, 403) else ""
            raise self._error(
                f"Currents API returned HTTP {response.status_code} for page {page}: "
                f"{error_message(response, secrets=[self.api_key])}.{hint}",
                url,
            )
        try:
            body = response.json()
        except ValueError:
            raise self._error(
                f"Currents API returned malformed JSON for page {page}: "
                + repr(redact_outside_text(response.text, [self.api_key], [url])[:200]),
                url,
            ) from None
        if not isinstance(body, dict) or body.get("status") != "ok":
            message = body.get("message") or body.get("msg") if isinstance(body, dict) else body
            raise self._error(
                f"Currents API answered with an error for page {page}: {message}", url
            )
        news = body.get("news")
        if not isinstance(news, list):
            raise NewsSourceError(f"Currents API response for page {page} has no 'news' list")
        return news


# -- rss: RSS and Atom feeds ----------------------------------------------------------------


def entry_published(entry: Any) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)


def entry_image(entry: Any) -> str | None:
    for media in entry.get("media_thumbnail", []) + entry.get("media_content", []):
        if media.get("url"):
            return media["url"]
    for link in entry.get("links", []):
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/"):
            return link.get("href")
    return None


def feed_entry_to_article(entry: Any, language: str) -> dict[str, Any]:
    published = entry_published(entry)
    return {
        "id": entry.get("id") or entry.get("link"),
        "title": entry.get("title"),
        "description": entry.get("summary") or entry.get("description"),
        "url": entry.get("link"),
        "author": entry.get("author"),
        "image": entry_image(entry),
        "language": language,
        "category": [tag.get("term") for tag in entry.get("tags", []) if tag.get("term")],
        "published": published.isoformat() if published else None,
    }


class RssNewsSource(NewsSource):
    """RSS or Atom feeds; entries published on the partition's UTC day are kept."""

    feed_urls: list[str] = setting(NewsSettings, "rss_feeds", required=True)
    timeout_seconds: float = 30.0
    max_retries: int = Field(default=3, ge=0)
    backoff_seconds: float = Field(default=1.0, ge=0)

    @property
    def kind(self) -> str:
        return "rss"

    def fetch_day(self, day: date) -> NewsBatch:
        if not self.feed_urls:
            raise NewsSourceError(
                "GLIMPSE_NEWS_SOURCE=rss needs GLIMPSE_RSS_FEEDS (comma-separated feed URLs)"
            )
        from glimpse_assets.http import retrying_session

        start, end = day_bounds(day)
        articles: list[dict[str, Any]] = []
        undated = 0
        with retrying_session(self.max_retries, self.backoff_seconds) as session:
            for url in self.feed_urls:
                feed = self._fetch_feed(session, url)
                language = (feed.feed.get("language") or "en").split("-")[0].lower()
                for entry in feed.entries:
                    published = entry_published(entry)
                    if published is None:
                        undated += 1
                    elif start <= published < end:
                        articles.append(feed_entry_to_article(entry, language))
        return NewsBatch(articles, {"feeds": len(self.feed_urls), "undated_entries": undated})

    def _fetch_feed(self, session: requests.Session, url: str) -> Any:
        import feedparser
        import requests

        from glimpse_assets.http import error_message

        def error(text: str) -> NewsSourceError:
            # The feed URL may carry credentials (https://user:pass@host/feed, ?token=...), and
            # an answer or an exception may echo them: shown redacted, wherever they appear.
            return NewsSourceError(redact_outside_text(text, [], [url]))

        try:
            response = session.get(url, timeout=self.timeout_seconds)
        except requests.RequestException as raised:
            raise error(f"feed {redact_url(url)} unreachable: {raised}") from None
        if response.status_code != 200:
            raise error(
                f"feed {url} returned HTTP {response.status_code}: {error_message(response)}"
            )
        feed = feedparser.parse(response.content)
        if not feed.get("version") or (feed.bozo and not feed.entries):
            # feedparser leaves `version` empty for anything it does not recognise as a feed
            # (an HTML page, an empty body); a real feed with no entries still has one.
            reason = feed.get("bozo_exception") or "not recognised as a feed"
            raise error(f"feed {url} is not valid RSS or Atom: {reason}")
        return feed
