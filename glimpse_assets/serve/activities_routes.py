"""`GET /activities/processed` and `GET /activities/{id}`: the stories Dagster stored.

`StoredActivities` reads what the stories chain stored: each day's `activity_stories` joined to
that day's `strava_activities` by id. Days are read newest first and only as far as a page
needs; a day's joined table is kept for `FRESH_SECONDS` (a re-materialised day shows within
that, a new day at once: the day list is read every request). An activity stored under two
days (its start changed on Strava) is served once, from the newest day.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Protocol, Self

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from glimpse_assets.serve.errors import ErrorDetail

if TYPE_CHECKING:
    import pandas as pd

    from glimpse_assets.storage.object_store import ObjectStore

STORIES = "activity_stories"
ACTIVITIES = "strava_activities"
FRESH_SECONDS = 2.0
MAX_LIMIT = 100


class ProcessedActivity(BaseModel):
    activity_id: int
    name: str
    sport_type: str
    start_date: datetime = Field(description="When it started, UTC")
    start_date_local: str = Field(description="Wall-clock time where it happened (no offset)")
    timezone: str
    distance_km: float | None
    moving_time_min: float | None
    elapsed_time_min: float | None
    elevation_gain_m: float | None
    max_speed_kmh: float | None
    average_speed_kmh: float | None
    average_heartrate: float | None = Field(description="None when not recorded")
    title: str
    story: str
    provider: str
    model: str


class ProcessedPage(BaseModel):
    activities: list[ProcessedActivity] = Field(description="Newest start first")
    next_before: datetime | None = Field(
        description="Pass as `before` for the next page; None on the last page"
    )


class ActivitiesBackend(Protocol):
    def processed(self, limit: int, before: datetime | None) -> list[dict[str, Any]]:
        """Up to `limit` activities with stories that started before `before`, newest first."""

    def one(self, activity_id: int) -> dict[str, Any] | None: ...


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    return value


class StoredActivities:
    def __init__(self, store: ObjectStore, clock: Callable[[], float] = time.monotonic):
        self._store = store
        self._clock = clock
        self._days: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        from glimpse_assets.resources import shared_resources

        return cls(shared_resources(env).object_store.store)

    def _stored_days(self) -> list[str]:
        """The days with stories, newest first."""
        prefix = f"{STORIES}/"
        days = [
            key[len(prefix) : -len(".parquet")]
            for key in self._store.list(STORIES)
            if key.startswith(prefix) and key.endswith(".parquet")
        ]
        return sorted(days, reverse=True)

    def _day(self, day: str) -> list[dict[str, Any]]:
        """The day's stories with their activities' metrics, newest start first."""
        now = self._clock()
        with self._lock:
            cached = self._days.get(day)
        if cached and now - cached[0] < FRESH_SECONDS:
            return cached[1]
        rows = self._read_day(day)
        with self._lock:
            self._days[day] = (now, rows)
        return rows

    def _read_day(self, day: str) -> list[dict[str, Any]]:
        from glimpse_assets.storage import formats
        from glimpse_assets.storage.object_store import ObjectNotFoundError

        try:
            stories: pd.DataFrame = formats.decode(
                self._store.get(f"{STORIES}/{day}.parquet"), formats.PARQUET
            )
            activities: pd.DataFrame = formats.decode(
                self._store.get(f"{ACTIVITIES}/{day}.parquet"), formats.PARQUET
            )
        except ObjectNotFoundError:
            return []  # half of a day being written, or removed: nothing to serve from it yet
        joined = stories.drop(columns=["method"], errors="ignore").merge(
            activities, on="activity_id", how="inner", validate="one_to_one"
        )
        joined = joined.sort_values(["start_date", "activity_id"], ascending=False)
        records = []
        for row in joined.to_dict("records"):
            record = {key: _plain(value) for key, value in row.items()}
            record["start_date_local"] = str(row["start_date_local"].isoformat())
            records.append(record)
        return records

    def processed(self, limit: int, before: datetime | None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        seen: set[int] = set()
        for day in self._stored_days():
            if before is not None and day > before.date().isoformat():
                continue
            for record in self._day(day):
                if before is not None and record["start_date"] >= before:
                    continue
                if record["activity_id"] in seen:
                    continue
                seen.add(record["activity_id"])
                found.append(record)
            # Days are in start order: once a page is full, older days cannot come before it.
            if len(found) >= limit:
                break
        found.sort(key=lambda r: (r["start_date"], r["activity_id"]), reverse=True)
        return found[:limit]

    def one(self, activity_id: int) -> dict[str, Any] | None:
        for day in self._stored_days():
            for record in self._day(day):
                if record["activity_id"] == activity_id:
                    return record
        return None


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def activities_router(backend: ActivitiesBackend) -> APIRouter:
    router = APIRouter(tags=["activities"])

    @router.get(
        "/activities/processed",
        summary="Activities with their stories, newest first",
        description="Every activity that has a title and story, with its metrics, deduplicated "
        "by id. Page with `before`: the `next_before` of the previous page.",
    )
    def processed(
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="How many")] = 20,
        before: Annotated[
            datetime | None,
            Query(
                description="Only activities that started before this time (ISO 8601, UTC "
                "if no offset)"
            ),
        ] = None,
    ) -> ProcessedPage:
        records = backend.processed(limit, _utc(before))
        activities = [ProcessedActivity(**record) for record in records]
        full = len(activities) == limit
        return ProcessedPage(
            activities=activities, next_before=activities[-1].start_date if full else None
        )

    @router.get(
        "/activities/{activity_id}",
        summary="One activity with its story",
        responses={404: {"model": ErrorDetail, "description": "No story for this activity"}},
    )
    def one(activity_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> ProcessedActivity:
        record = backend.one(activity_id)
        if record is None:
            raise HTTPException(status_code=404, detail=f"no story for activity {activity_id}")
        return ProcessedActivity(**record)

    return router
