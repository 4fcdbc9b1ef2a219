"""Where each activity's story is stored: an index by id that the stories chain keeps, so that
`GET /activities/{id}` reads one small object instead of every stored day.

Two kinds of JSON records under `_activities/`:

- `by_id/<id>`: `{"activity_id", "day"}`, the day whose stories run stored the activity last
  (`day` null once that day was stored again without it);
- `days/<day>`: `{"day", "activity_ids"}`, the activities that day holds as their latest; written
  after the day's `by_id` records, so a day that has it is fully indexed.

An activity whose start moved on Strava is stored under a second day; indexing that day moves
its `by_id` record there and takes it out of the first day's `days` record, so both routes
serve it once, from where it was stored last. Days stored before the index existed have no
`days` record: the reader scans those (and only those) for an id it does not find, and running
`activity_stories` for them again (from the LLM cache) indexes them.

Updates are read-modify-replace with the object store's conditional writes, retried when
another run wrote in between, so concurrent runs of different days lose no update.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from glimpse_assets.storage.object_store import (
    AlreadyExistsError,
    ObjectChangedError,
    ObjectNotFoundError,
    ObjectStore,
)
from glimpse_assets.storage.records import JSON_CONTENT_TYPE, encode_record

INDEX_PREFIX = "_activities"
ATTEMPTS = 20
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class BadIndexRecordError(ValueError):
    """An index record that is not what the chain writes; the message names its key."""


def by_id_key(activity_id: int) -> str:
    return f"{INDEX_PREFIX}/by_id/{int(activity_id)}.json"


def day_key(day: str) -> str:
    return f"{INDEX_PREFIX}/days/{day}.json"


def indexed_days(store: ObjectStore) -> set[str]:
    """The days that have a `days` record (one listing)."""
    prefix = f"{INDEX_PREFIX}/days/"
    return {
        key[len(prefix) : -len(".json")]
        for key in store.list(f"{INDEX_PREFIX}/days")
        if key.startswith(prefix) and key.endswith(".json")
    }


def _parse(key: str, data: bytes, field: str, valid: Callable[[Any], bool]) -> dict[str, Any]:
    try:
        record = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadIndexRecordError(f"{key}: not JSON ({error.__class__.__name__})") from None
    if not isinstance(record, dict) or field not in record or not valid(record[field]):
        raise BadIndexRecordError(f"{key}: not an index record (no valid {field!r})")
    return record


def _day_or_none(value: Any) -> bool:
    return value is None or (isinstance(value, str) and bool(_DAY.match(value)))


def _id_list(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(i, int) and not isinstance(i, bool) for i in value
    )


def day_of(store: ObjectStore, activity_id: int) -> str | None:
    """The day the activity was stored under last; None when the index does not know it.
    `BadIndexRecordError` for a record that is not one."""
    key = by_id_key(activity_id)
    try:
        data = store.get(key)
    except ObjectNotFoundError:
        return None
    return _parse(key, data, "day", _day_or_none)["day"]


def ids_of_day(store: ObjectStore, day: str) -> set[int] | None:
    """The ids whose latest story is the day's; None for a day not indexed.
    `BadIndexRecordError` for a record that is not one."""
    key = day_key(day)
    try:
        data = store.get(key)
    except ObjectNotFoundError:
        return None
    return set(_parse(key, data, "activity_ids", _id_list)["activity_ids"])


def _update(
    store: ObjectStore,
    key: str,
    field: str,
    valid: Callable[[Any], bool],
    change: Callable[[dict[str, Any] | None], dict[str, Any] | None],
) -> dict[str, Any] | None:
    """Read the record at `key` (None when absent or not a record), write `change(record)`
    unless it is None or the same, retrying when another writer got in between. Returns the
    record as it was read."""
    for _ in range(ATTEMPTS):
        try:
            data, etag = store.get_versioned(key)
        except ObjectNotFoundError:
            data, etag = None, None
        try:
            record = None if data is None else _parse(key, data, field, valid)
        except BadIndexRecordError:
            record = None  # overwritten with a good one
        new = change(record)
        if new is None or new == record:
            return record
        try:
            if etag is None:
                store.create(key, encode_record(new), JSON_CONTENT_TYPE)
            else:
                store.replace(key, encode_record(new), JSON_CONTENT_TYPE, etag=etag)
        except (AlreadyExistsError, ObjectChangedError):
            continue
        return record
    raise ObjectChangedError(f"{key}: changed by other writers {ATTEMPTS} times in a row")


def _claim(store: ObjectStore, activity_id: int, day: str) -> str | None:
    """Point the activity's record at `day`; the day it pointed at before."""
    before = _update(
        store,
        by_id_key(activity_id),
        "day",
        _day_or_none,
        lambda _: {"activity_id": activity_id, "day": day},
    )
    return None if before is None else before["day"]


def _release(store: ObjectStore, activity_id: int, day: str) -> None:
    """`day` no longer holds the activity: clear its record if it still points there."""
    _update(
        store,
        by_id_key(activity_id),
        "day",
        _day_or_none,
        lambda record: (
            {"activity_id": activity_id, "day": None}
            if record is not None and record["day"] == day
            else None
        ),
    )


def _set_day_ids(store: ObjectStore, day: str, change: Callable[[set[int]], set[int]]) -> None:
    def new_record(record: dict[str, Any] | None) -> dict[str, Any] | None:
        if record is None:
            return None
        return {"day": day, "activity_ids": sorted(change(set(record["activity_ids"])))}

    _update(store, day_key(day), "activity_ids", _id_list, new_record)


def index_day(store: ObjectStore, day: str, activity_ids: Iterable[int]) -> None:
    """Record that `day`'s stories run stored `activity_ids` (all of that day's activities)."""
    ids = sorted({int(i) for i in activity_ids})
    try:
        previous = ids_of_day(store, day) or set()
    except BadIndexRecordError:
        previous = set()  # rewritten below
    for activity_id in ids:
        former = _claim(store, activity_id, day)
        if former is not None and former != day:
            _set_day_ids(store, former, lambda held, i=activity_id: held - {i})
    for activity_id in sorted(previous - set(ids)):
        _release(store, activity_id, day)
    _update(
        store,
        day_key(day),
        "activity_ids",
        _id_list,
        lambda _: {"day": day, "activity_ids": ids},
    )
