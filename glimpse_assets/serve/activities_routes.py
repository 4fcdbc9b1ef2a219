"""`GET /activities/processed` and `GET /activities/{id}`: the stories Dagster stored.

`StoredActivities` reads what the stories chain stored: each day's `activity_stories` joined to
that day's `strava_activities` by id, and the chain's index by id (`stories.index`). A lookup
reads the activity's index record and its one day, whatever the number of days; an id the index
does not know is looked for only in the days stored before the index existed. The list reads
days newest first and only as far as a page needs. A day's joined table is kept for
`FRESH_SECONDS` (a re-materialised day shows within that, a new day at once: the day list is
read every request). An activity stored under two days (its start moved on Strava) is served
once, from the day that stored it last.

Pages follow a cursor that is unique: `next_before` is the last activity's start and id, so
activities that start in the same second are all served, each once. A stored object that does
not read (truncated, not Parquet, not an index record) is named in the log with what is wrong
and skipped; the rest is served.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Protocol, Self

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import AfterValidator, BaseModel, Field, TypeAdapter, ValidationError

from glimpse_assets.serve.errors import ErrorDetail
from glimpse_assets.stories.index import BadIndexRecordError, day_of, ids_of_day, indexed_days

if TYPE_CHECKING:
    import pandas as pd

    from glimpse_assets.storage.object_store import ObjectStore

STORIES = "activity_stories"
ACTIVITIES = "strava_activities"
FRESH_SECONDS = 2.0
MAX_LIMIT = 100
MAX_ID = 2**63 - 1

log = logging.getLogger("uvicorn.error.activities")


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
    next_before: str | None = Field(
        description="Pass as `before` for the next page (the last activity's start and id); "
        "None on the last page"
    )


# -- the cursor -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Activities before `start` (UTC); with `activity_id`, also those that started at `start`
    with a smaller id."""

    start: datetime
    activity_id: int | None = None

    def admits(self, record: Mapping[str, Any]) -> bool:
        if self.activity_id is None:
            return record["start_date"] < self.start
        return (record["start_date"], record["activity_id"]) < (self.start, self.activity_id)

    def text(self) -> str:
        stamp = self.start.isoformat().replace("+00:00", "Z")
        return stamp if self.activity_id is None else f"{stamp}_{self.activity_id}"


_MOMENT: TypeAdapter[datetime] = TypeAdapter(datetime)


def parse_before(value: str | None) -> Cursor | None:
    """`before` as given: an ISO 8601 time (UTC without an offset) or a page's `next_before`
    (`<time>_<id>`). The messages never quote the value."""
    if value is None:
        return None
    moment, separator, number = value.partition("_")
    activity_id = None
    if separator:
        well_formed = number.isascii() and number.isdigit() and len(number) <= 19
        if not (well_formed and 1 <= int(number) <= MAX_ID):
            raise ValueError("the id after '_' must be a whole number from 1 to 2**63-1")
        activity_id = int(number)
    try:
        start = _MOMENT.validate_python(moment)
    except ValidationError:
        raise ValueError("not an ISO 8601 time, nor a next_before of this API") from None
    try:
        start = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range in UTC") from None
    return Cursor(start, activity_id)


def cursor_after(record: Mapping[str, Any]) -> Cursor:
    return Cursor(record["start_date"], int(record["activity_id"]))


# -- the reader -------------------------------------------------------------------------------


class ActivitiesBackend(Protocol):
    def processed(self, limit: int, before: Cursor | None) -> list[dict[str, Any]]:
        """Up to `limit` activities with stories that `before` admits, newest first."""

    def one(self, activity_id: int) -> dict[str, Any] | None: ...


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    return value


def _reason(error: BaseException) -> str:
    """What is wrong, in one line (a decoder's own words, never the object's content)."""
    return f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"


class StoredActivities:
    def __init__(self, store: ObjectStore, clock: Callable[[], float] = time.monotonic):
        self._store = store
        self._clock = clock
        self._days: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._unindexed: tuple[float, list[str]] | None = None
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

    def _unindexed_days(self) -> list[str]:
        """The days stored before the index existed (no `days` record), newest first."""
        now = self._clock()
        with self._lock:
            cached = self._unindexed
        if cached and now - cached[0] < FRESH_SECONDS:
            return cached[1]
        indexed = indexed_days(self._store)
        days = [day for day in self._stored_days() if day not in indexed]
        with self._lock:
            self._unindexed = (now, days)
        return days

    def _day(self, day: str, indexed: bool = True) -> list[dict[str, Any]]:
        """The day's stories with their activities' metrics, newest start first: those whose
        latest story is this day's. `indexed=False`: the day is known to have no index record
        (the listing said so), which is not read then."""
        now = self._clock()
        with self._lock:
            cached = self._days.get(day)
        if cached and now - cached[0] < FRESH_SECONDS:
            return cached[1]
        rows = self._read_day(day)
        held = self._held(day) if indexed else None
        # A day stored before the index holds what it stored, as before the index: an activity
        # that moved between two such days is listed from the newer one within a page, and
        # may show again on a later page until the days are indexed.
        if held is not None:
            rows = [row for row in rows if row["activity_id"] in held]
        with self._lock:
            self._days[day] = (now, rows)
        return rows

    def _held(self, day: str) -> set[int] | None:
        try:
            return ids_of_day(self._store, day)
        except BadIndexRecordError as error:
            log.warning("activities: skipped index record: %s", error)
            return None

    def _table(self, asset: str, day: str) -> pd.DataFrame | None:
        from glimpse_assets.storage import formats
        from glimpse_assets.storage.object_store import ObjectNotFoundError

        key = f"{asset}/{day}.parquet"
        try:
            data = self._store.get(key)
        except ObjectNotFoundError:
            return None  # half of a day being written, or removed: nothing to serve from it yet
        try:
            return formats.decode(data, formats.PARQUET)
        except Exception as error:  # whatever the Parquet reader raises for a broken file
            log.warning("activities: skipped %s: %s", key, _reason(error))
            return None

    def _read_day(self, day: str) -> list[dict[str, Any]]:
        stories = self._table(STORIES, day)
        activities = self._table(ACTIVITIES, day) if stories is not None else None
        if stories is None or activities is None:
            return []
        try:
            joined = stories.drop(columns=["method"], errors="ignore").merge(
                activities, on="activity_id", how="inner", validate="one_to_one"
            )
            joined = joined.sort_values(["start_date", "activity_id"], ascending=False)
        except Exception as error:  # a column missing, an id twice: the day is not readable
            log.warning("activities: skipped %s/%s.parquet: %s", STORIES, day, _reason(error))
            return []
        return [record for row in joined.to_dict("records") if (record := _record(row, day))]

    def processed(self, limit: int, before: Cursor | None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        seen: set[int] = set()
        for day in self._stored_days():
            if before is not None and day > before.start.date().isoformat():
                continue
            for record in self._day(day):
                if record["activity_id"] in seen:
                    continue
                seen.add(record["activity_id"])
                if before is None or before.admits(record):
                    found.append(record)
            # Days are in start order: once a page is full, older days cannot come before it.
            if len(found) >= limit:
                break
        found.sort(key=lambda r: (r["start_date"], r["activity_id"]), reverse=True)
        return found[:limit]

    def one(self, activity_id: int) -> dict[str, Any] | None:
        try:
            day = day_of(self._store, activity_id)
        except BadIndexRecordError as error:
            log.warning("activities: skipped index record: %s", error)
            return self._find(activity_id, self._stored_days())
        if day is not None:
            return self._find(activity_id, [day])
        return self._find(activity_id, self._unindexed_days(), indexed=False)

    def _find(
        self, activity_id: int, days: list[str], indexed: bool = True
    ) -> dict[str, Any] | None:
        for day in days:
            for record in self._day(day, indexed):
                if record["activity_id"] == activity_id:
                    return record
        return None


def _record(row: dict[str, Any], day: str) -> dict[str, Any] | None:
    """A joined row as the API serves it, or None (logged) when it is not one."""
    record = {key: _plain(value) for key, value in row.items()}
    local = row.get("start_date_local")
    record["start_date_local"] = local.isoformat() if hasattr(local, "isoformat") else local
    try:
        ProcessedActivity.model_validate(record)
    except ValidationError as error:
        fields = ", ".join(sorted({str(item["loc"][0]) for item in error.errors() if item["loc"]}))
        log.warning(
            "activities: skipped activity %s of %s/%s.parquet: bad %s",
            record.get("activity_id"),
            STORIES,
            day,
            fields or "row",
        )
        return None
    return record


# -- the routes -------------------------------------------------------------------------------

Before = Annotated[
    str | None,
    AfterValidator(parse_before),
    Query(
        description="Only activities that started before this time (ISO 8601, UTC if no "
        "offset), or the previous page's `next_before`",
    ),
]


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
        before: Before = None,
    ) -> ProcessedPage:
        records = backend.processed(limit, before)  # the validator made it a Cursor
        activities = [ProcessedActivity(**record) for record in records]
        full = len(activities) == limit
        return ProcessedPage(
            activities=activities,
            next_before=cursor_after(records[-1]).text() if full else None,
        )

    @router.get(
        "/activities/{activity_id}",
        summary="One activity with its story",
        responses={404: {"model": ErrorDetail, "description": "No story for this activity"}},
    )
    def one(activity_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> ProcessedActivity:
        record = backend.one(activity_id)
        if record is None:
            raise HTTPException(status_code=404, detail="no story for this activity")
        return ProcessedActivity(**record)

    return router
