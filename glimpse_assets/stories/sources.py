"""Where a day's activities come from: the shipped sample (offline) or the Strava API.

Both answer the same two questions in Strava's SummaryActivity JSON: the activities that
started (UTC) on a day, for `strava_activities`, and those that started in a time window, for
the sensor. Strava's tokens live in the object store's records (`tokens`), never in config.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import dagster as dg

from glimpse_assets.settings import setting
from glimpse_assets.stories.settings import StoriesSettings

if TYPE_CHECKING:
    from glimpse_assets.storage.records import JsonRecords

TOKENS_PREFIX = "_credentials"  # the rotated Strava tokens: <root>/_credentials/strava/token.json


def utc_day(start_date: str) -> date:
    return datetime.strptime(start_date, "%Y-%m-%dT%H:%M:%SZ").date()


def start_epoch(activity: dict[str, Any]) -> int:
    started = datetime.strptime(activity["start_date"], "%Y-%m-%dT%H:%M:%SZ")
    return int(started.replace(tzinfo=UTC).timestamp())


class ActivitySource(dg.ConfigurableResource, ABC):
    @property
    @abstractmethod
    def kind(self) -> str:
        """ "sample" or "strava", as the metadata says."""

    @abstractmethod
    def activities_between(
        self, after: int, before: int, tokens: JsonRecords, *, wait: bool = True
    ) -> list[dict[str, Any]]:
        """Activities whose `start_date` is after `after` and before `before` (epoch seconds).
        `wait=False`: a rate limit fails at once (a sensor tick must not wait)."""

    def activities_on(self, day: date, tokens: JsonRecords) -> list[dict[str, Any]]:
        """The activities that started on `day` (UTC)."""
        from glimpse_assets.stories.strava import day_window

        start, end = day_window(day)
        # One second early: whether `after` is exclusive or not, an activity at midnight is in.
        found = self.activities_between(start - 1, end, tokens)
        return [item for item in found if utc_day(item["start_date"]) == day]


class SampleActivitySource(ActivitySource):
    """The shipped sample (32 invented activities), one to four drawn for each local day."""

    @property
    def kind(self) -> str:
        return "sample"

    def activities_between(
        self, after: int, before: int, tokens: JsonRecords, *, wait: bool = True
    ) -> list[dict[str, Any]]:
        from glimpse_assets.stories.activities import sample_activities_for_day

        first = datetime.fromtimestamp(after, UTC).date() - timedelta(days=1)
        last = datetime.fromtimestamp(before, UTC).date() + timedelta(days=1)
        found = []
        for offset in range((last - first).days + 1):
            for item in sample_activities_for_day(first + timedelta(days=offset)):
                if after < start_epoch(item) < before:
                    found.append(item)
        return sorted(found, key=lambda item: (item["start_date"], item["id"]))


class StravaActivitySource(ActivitySource):
    """The athlete's activities from the Strava API (see `stories.strava`)."""

    api_url: str = setting(StoriesSettings, "strava_api_url")
    client_id: str | None = setting(StoriesSettings, "client_id_set")
    client_secret: str | None = setting(StoriesSettings, "client_secret_set")
    refresh_token: str | None = setting(StoriesSettings, "refresh_token_set")
    timeout_seconds: float = 30.0

    @property
    def kind(self) -> str:
        return "strava"

    def activities_between(
        self, after: int, before: int, tokens: JsonRecords, *, wait: bool = True
    ) -> list[dict[str, Any]]:
        from glimpse_assets.stories.strava import StravaClient, StravaRateLimitError

        def no_wait(seconds: float) -> None:
            raise StravaRateLimitError(
                f"Strava's 15-minute rate limit is spent; the next window opens in {seconds:.0f} s"
            )

        client = StravaClient(
            self.api_url,
            self.client_id,
            self.client_secret,
            self.refresh_token,
            tokens,
            timeout_seconds=self.timeout_seconds,
            **({} if wait else {"sleep": no_wait}),
        )
        return client.activities_between(after, before)
