"""The activities routes over what the stories chain stored, as it grows and as it goes wrong:
the by-id index (a lookup reads the same few objects at 3 days as at 30, and days stored before
the index existed are still found), paging by a unique cursor, a `before` out of range, and
corrupt objects named in the log and skipped."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from glimpse_assets.serve.activities_routes import StoredActivities, activities_router
from glimpse_assets.serve.app import create_app
from glimpse_assets.serve.settings import ServeSettings
from glimpse_assets.storage.object_store import ObjectStore
from glimpse_assets.storage.records import JsonRecords
from glimpse_assets.stories.assets import activity_stories, stories_assets
from glimpse_assets.stories.sources import StravaActivitySource
from glimpse_assets_tests.support.serve_process import serve_process
from glimpse_assets_tests.support.stores import io_manager_at
from glimpse_assets_tests.support.strava_double import (
    CLIENT_ID,
    CLIENT_SECRET,
    FIRST_REFRESH_TOKEN,
    StravaDouble,
    activity,
)

KEY = "stored-activities-key-0123456789"
INDEX = "_activities"


# -- helpers ----------------------------------------------------------------------------------


class CountingStore:
    """Our own `ObjectStore` interface around another one: every call passed on, every read
    counted by key (`reads`) and every listing counted (`lists`)."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.reads: Counter[str] = Counter()
        self.lists = 0

    def __getattr__(self, name: str):
        return getattr(self.inner, name)  # writes and the rest, as they are

    def get(self, key: str) -> bytes:
        self.reads[key] += 1
        return self.inner.get(key)

    def get_versioned(self, key: str) -> tuple[bytes, str]:
        self.reads[key] += 1
        return self.inner.get_versioned(key)

    def exists(self, key: str) -> bool:
        self.reads[key] += 1
        return self.inner.exists(key)

    def list(self, prefix: str) -> list[str]:
        self.lists += 1
        return self.inner.list(prefix)


def resources_at(root, **overrides) -> dict:
    from glimpse_assets.providers.offline_text import OfflineTextProvider
    from glimpse_assets.stories.sources import SampleActivitySource

    io_manager = io_manager_at(str(root))
    return {
        "io_manager": io_manager,
        "object_store": io_manager.object_store,
        "text_provider": OfflineTextProvider(),
        "strava_source": SampleActivitySource(),
        **overrides,
    }


def store_days(root, first: str, last: str, selection=None, **overrides) -> None:
    """The stories chain offline for the days `first` to `last` (one range run)."""
    result = dg.materialize(
        stories_assets,
        selection=selection,
        resources=resources_at(root, **overrides),
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        },
    )
    assert result.success


def store_day(root, day: str, **overrides) -> None:
    resources = resources_at(root, **overrides)
    assert dg.materialize(stories_assets, partition_key=day, resources=resources).success


def local_store(root) -> ObjectStore:
    return io_manager_at(str(root)).object_store.store


def stored_ids(root) -> dict[int, str]:
    """Every stored activity id and the day it is stored under."""
    found = {}
    for path in sorted((root / "strava_activities").glob("*.parquet")):
        for activity_id in pd.read_parquet(path)["activity_id"]:
            found[int(activity_id)] = path.stem
    return found


def client_for(reader: StoredActivities, tmp_path) -> TestClient:
    settings = ServeSettings.from_env({"GLIMPSE_API_KEYS": KEY})
    app = create_app(
        settings, env={"GLIMPSE_STORAGE_URI": str(tmp_path)}, routers=[activities_router(reader)]
    )
    return TestClient(app, headers={"X-API-Key": KEY}, raise_server_exceptions=False)


def every_page(client: TestClient, limit: int) -> list[int]:
    """The ids of every page, following `next_before` to the end."""
    seen, before = [], None
    for _ in range(1000):
        params = {"limit": limit, **({"before": before} if before else {})}
        response = client.get("/activities/processed", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [item["activity_id"] for item in page["activities"]]
        before = page["next_before"]
        if before is None:
            return seen
    raise AssertionError("paging did not end")


def strava_source(strava: StravaDouble) -> StravaActivitySource:
    return StravaActivitySource(
        api_url=strava.url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token=FIRST_REFRESH_TOKEN,
    )


# -- the index by id (issue item 5) -----------------------------------------------------------


def test_the_stories_step_indexes_each_activity_under_its_day(tmp_path):
    root = tmp_path / "storage"
    store_days(root, "2026-03-01", "2026-03-03")
    records = JsonRecords(local_store(root), INDEX)
    ids = stored_ids(root)
    assert ids
    for activity_id, day in ids.items():
        assert records.get(f"by_id/{activity_id}") == {"activity_id": activity_id, "day": day}
    for day in ("2026-03-01", "2026-03-02", "2026-03-03"):
        on_day = sorted(i for i, d in ids.items() if d == day)
        assert records.get(f"days/{day}") == {"day": day, "activity_ids": on_day}


def lookup_reads(root, activity_id: int) -> tuple[Counter[str], int, dict | None]:
    """What one lookup by a fresh reader reads: objects by kind, listings, and the answer."""
    store = CountingStore(local_store(root))
    found = StoredActivities(store, lambda: 0.0).one(activity_id)
    kinds = Counter(key.split("/")[0] for key in store.reads.elements())
    return kinds, store.lists, found


@pytest.mark.slow
def test_a_lookup_reads_as_few_objects_at_30_days_as_at_3(tmp_path):
    root = tmp_path / "storage"
    store_days(root, "2026-01-01", "2026-01-03")
    oldest = min(i for i, d in stored_ids(root).items() if d == "2026-01-01")
    unknown_3, lists_3, nothing = lookup_reads(root, 999)
    known_3, _, found = lookup_reads(root, oldest)
    assert nothing is None and found["activity_id"] == oldest

    store_days(root, "2026-01-04", "2026-01-30")
    unknown_30, lists_30, nothing = lookup_reads(root, 999)
    known_30, _, found = lookup_reads(root, oldest)
    assert nothing is None and found["activity_id"] == oldest

    assert unknown_30 == unknown_3, f"unknown id: {unknown_3} at 3 days, {unknown_30} at 30"
    assert known_30 == known_3, f"known id: {known_3} at 3 days, {known_30} at 30"
    assert lists_30 == lists_3
    assert unknown_30 == {INDEX: 1}  # the index entry it does not find, and no day
    assert known_30 == {INDEX: 2, "activity_stories": 1, "strava_activities": 1}


@pytest.mark.slow
def test_days_stored_before_the_index_are_found_by_scanning_only_those(tmp_path):
    root = tmp_path / "storage"
    days = ["2026-03-01", "2026-03-02", "2026-03-03"]
    store_days(root, days[0], days[-1])
    store = local_store(root)
    for key in store.list(INDEX):  # as the code before the index stored them
        store.delete(key)
    ids = stored_ids(root)

    for activity_id, day in ids.items():
        kinds, _, found = lookup_reads(root, activity_id)
        assert found is not None and found["activity_id"] == activity_id
        assert found["start_date"].date().isoformat() == day
    kinds, _, nothing = lookup_reads(root, 999)
    assert nothing is None and kinds["activity_stories"] == 3  # every day: none is indexed
    reader = StoredActivities(store, lambda: 0.0)
    assert sorted(r["activity_id"] for r in reader.processed(100, None)) == sorted(ids)

    # Re-running the stories of the old days (from the cache: no model request) indexes them.
    store_days(root, days[0], days[1], selection=[activity_stories])
    kinds, _, nothing = lookup_reads(root, 999)
    assert nothing is None and kinds["activity_stories"] == 1  # only the day not re-run
    store_days(root, days[2], days[2], selection=[activity_stories])
    kinds, _, nothing = lookup_reads(root, 999)
    assert nothing is None and kinds == {INDEX: 1}
    for activity_id in ids:
        assert lookup_reads(root, activity_id)[2]["activity_id"] == activity_id


# -- paging (issue item 7) --------------------------------------------------------------------

DAY = datetime(2026, 3, 2, tzinfo=UTC)


def test_paging_one_by_one_keeps_activities_that_start_in_the_same_second(tmp_path):
    root = tmp_path / "storage"
    same_second = DAY + timedelta(hours=7)
    rides = [
        activity(1, same_second),
        activity(2, same_second),
        activity(3, same_second),
        activity(4, DAY + timedelta(hours=6)),
        activity(5, DAY + timedelta(hours=9)),
    ]
    with StravaDouble(rides) as strava:
        store_day(root, "2026-03-02", strava_source=strava_source(strava))
    client = client_for(StoredActivities(local_store(root), lambda: 0.0), tmp_path)
    expected = [1005, 1003, 1002, 1001, 1004]  # newest start first, then the larger id
    for limit in (1, 2, 3):
        assert every_page(client, limit) == expected, limit


@pytest.mark.slow
def test_an_activity_whose_start_moved_is_listed_once_from_where_it_was_stored_last(tmp_path):
    root = tmp_path / "storage"
    moved = activity(1, datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    rides = [moved, activity(2, DAY + timedelta(hours=8)), activity(3, DAY - timedelta(hours=14))]
    with StravaDouble(rides) as strava:
        store_days(root, "2026-03-01", "2026-03-02", strava_source=strava_source(strava))
        # The athlete corrects the start: now the next morning. Only 03-02 is run again.
        moved.update(activity(1, DAY + timedelta(hours=9)))
        store_day(root, "2026-03-02", strava_source=strava_source(strava))
        reader = StoredActivities(local_store(root), lambda: 0.0)
        client = client_for(reader, tmp_path)
        expected = [1001, 1002, 1003]
        for limit in (1, 2, 100):
            assert every_page(client, limit) == expected, limit
        assert reader.one(1001)["start_date"] == DAY + timedelta(hours=9)

        store_day(root, "2026-03-01", strava_source=strava_source(strava))  # now without it
        reader = StoredActivities(local_store(root), lambda: 0.0)
        assert every_page(client_for(reader, tmp_path), 1) == expected


# -- a before out of range (issue item 8) -----------------------------------------------------


@pytest.mark.parametrize(
    "before",
    [
        "9999-12-31T23:59:59-12:00",
        "0001-01-01T00:00:00+01:00",
        "yesterday",
        "2026-03-02T07:00:00Z_",
        "2026-03-02T07:00:00Z_x1",
        "2026-03-02T07:00:00Z_0",
        "2026-03-02T07:00:00Z_99999999999999999999",
        "_1001",
    ],
)
def test_a_bad_before_is_422_and_not_echoed(tmp_path, before):
    client = client_for(StoredActivities(local_store(tmp_path / "storage"), lambda: 0.0), tmp_path)
    response = client.get("/activities/processed", params={"before": before})
    assert response.status_code == 422
    assert before not in response.text
    assert response.json()["detail"][0]["loc"] == ["query", "before"]


@pytest.mark.parametrize(
    "before", ["2026-03-02T07:00:00", "2026-03-02T08:00:00+01:00", "2026-03-02T07:00:00Z"]
)
def test_a_before_time_is_still_taken_and_utc_without_an_offset(tmp_path, before):
    root = tmp_path / "storage"
    rides = [activity(1, DAY + timedelta(hours=6)), activity(2, DAY + timedelta(hours=7))]
    with StravaDouble(rides) as strava:
        store_day(root, "2026-03-02", strava_source=strava_source(strava))
    client = client_for(StoredActivities(local_store(root), lambda: 0.0), tmp_path)
    page = client.get("/activities/processed", params={"before": before}).json()
    assert [item["activity_id"] for item in page["activities"]] == [1001]


# -- corrupt stored objects (issue item 10) ---------------------------------------------------


@pytest.mark.parametrize("asset", ["activity_stories", "strava_activities"])
def test_a_truncated_day_is_named_in_the_log_skipped_and_the_rest_served(tmp_path, caplog, asset):
    root = tmp_path / "storage"
    store_days(root, "2026-03-01", "2026-03-03")
    ids = stored_ids(root)
    bad = root / asset / "2026-03-02.parquet"
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    client = client_for(StoredActivities(local_store(root), lambda: 0.0), tmp_path)

    with caplog.at_level(logging.WARNING):
        listed = client.get("/activities/processed", params={"limit": 100})
        answers = {i: client.get(f"/activities/{i}").status_code for i in ids}
    assert listed.status_code == 200
    good = [i for i, day in ids.items() if day != "2026-03-02"]
    assert sorted(item["activity_id"] for item in listed.json()["activities"]) == sorted(good)
    assert answers == {i: 200 if day != "2026-03-02" else 404 for i, day in ids.items()}
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"{asset}/2026-03-02.parquet" in logged
    assert "parquet" in logged.lower() and "skipped" in logged


def test_garbage_index_objects_are_named_in_the_log_and_lookups_still_answer(tmp_path, caplog):
    root = tmp_path / "storage"
    store_days(root, "2026-03-01", "2026-03-03")
    ids = stored_ids(root)
    store = local_store(root)
    target = min(ids)
    store.put(f"{INDEX}/by_id/{target}.json", b'{"activity_id": ')
    store.put(f"{INDEX}/days/2026-03-03.json", b"[1, 2")
    client = client_for(StoredActivities(store, lambda: 0.0), tmp_path)
    with caplog.at_level(logging.WARNING):
        listed = client.get("/activities/processed", params={"limit": 100})
        answers = {i: client.get(f"/activities/{i}").status_code for i in ids}
    assert listed.status_code == 200
    assert sorted(item["activity_id"] for item in listed.json()["activities"]) == sorted(ids)
    assert set(answers.values()) == {200}
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"{INDEX}/by_id/{target}.json" in logged and f"{INDEX}/days/2026-03-03.json" in logged


@pytest.mark.process
def test_a_truncated_day_under_uvicorn_is_named_in_its_log_and_the_rest_served(tmp_path):
    root = tmp_path / "storage"
    store_days(root, "2026-03-01", "2026-03-02")
    ids = stored_ids(root)
    bad = root / "activity_stories" / "2026-03-01.parquet"
    bad.write_bytes(b"PAR1 not really")
    env = {"GLIMPSE_STORAGE_URI": str(root), "GLIMPSE_API_KEYS": KEY}
    with serve_process(env) as service, service.client() as client:
        listed = client.get("/activities/processed", params={"limit": 100})
        one = client.get(f"/activities/{max(ids)}")
    assert listed.status_code == 200 and one.status_code == 200
    good = [i for i, day in ids.items() if day == "2026-03-02"]
    assert sorted(item["activity_id"] for item in listed.json()["activities"]) == sorted(good)
    assert "activity_stories/2026-03-01.parquet" in service.output()
    assert "Traceback" not in service.output()
