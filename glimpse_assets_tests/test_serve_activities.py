"""`GET /activities/processed` and `GET /activities/{id}`: the stored stories over HTTP, through
a real `glimpse serve` process (order, paging, keys, 404) and on the reader alone (a day
re-stored, an activity under two days). test_serve_activities_stored: the index by id, paging by
a unique cursor, bad `before` values and corrupt objects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from glimpse_assets.serve.activities_routes import Cursor, StoredActivities
from glimpse_assets.stories.index import index_day
from glimpse_assets_tests.support.serve_process import serve_process, store_sample_stories
from glimpse_assets_tests.support.stores import io_manager_at

KEY = "stories-test-key-0123456789"
DAYS = ["2026-03-01", "2026-03-02", "2026-03-03"]


def stored_ids_newest_first(root) -> list[int]:
    frames = [pd.read_parquet(f"{root}/strava_activities/{day}.parquet") for day in DAYS]
    activities = pd.concat(frames).sort_values(["start_date", "activity_id"], ascending=False)
    return [int(i) for i in activities["activity_id"]]


@pytest.fixture(scope="module")
def stories_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("stories") / "storage")
    store_sample_stories(root, DAYS)
    return root


@pytest.fixture(scope="module")
def service(stories_root):
    with serve_process({"GLIMPSE_STORAGE_URI": stories_root, "GLIMPSE_API_KEYS": KEY}) as served:
        yield served


@pytest.mark.process
def test_the_processed_list_is_every_story_newest_first(service, stories_root):
    with service.client() as client:
        response = client.get("/activities/processed", params={"limit": 100})
    assert response.status_code == 200
    body = response.json()
    ids = [item["activity_id"] for item in body["activities"]]
    assert ids == stored_ids_newest_first(stories_root)
    assert body["next_before"] is None
    first = body["activities"][0]
    assert first["title"] and len(first["story"].split()) >= 40
    assert first["provider"] == "offline"
    assert {"distance_km", "moving_time_min", "start_date", "sport_type"} <= set(first)


@pytest.mark.process
def test_paging_with_before_walks_the_whole_list_once(service, stories_root):
    seen, before = [], None
    with service.client() as client:
        while True:
            params = {"limit": 2, **({"before": before} if before else {})}
            page = client.get("/activities/processed", params=params).json()
            seen += [item["activity_id"] for item in page["activities"]]
            before = page["next_before"]
            if before is None:
                break
    assert seen == stored_ids_newest_first(stories_root)


@pytest.mark.process
def test_one_activity_and_an_unknown_one(service, stories_root):
    wanted = stored_ids_newest_first(stories_root)[-1]
    with service.client() as client:
        found = client.get(f"/activities/{wanted}")
        unknown = client.get("/activities/999")
        not_a_number = client.get("/activities/latest")
    assert found.status_code == 200 and found.json()["activity_id"] == wanted
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "no story for this activity"}  # the id not echoed
    assert not_a_number.status_code == 422


@pytest.mark.parametrize("path", ["/activities/processed", "/activities/1"])
@pytest.mark.process
def test_the_activities_need_an_api_key(service, path):
    with service.client(api_key=None) as client:
        missing = client.get(path)
    with service.client(api_key="wrong-key-0123456789") as client:
        wrong = client.get(path)
    assert missing.status_code == wrong.status_code == 401


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"before": "yesterday"}])
@pytest.mark.process
def test_bad_parameters_are_422(service, params):
    with service.client() as client:
        assert client.get("/activities/processed", params=params).status_code == 422


# -- the reader alone -------------------------------------------------------------------------


def test_an_activity_under_two_days_is_listed_once_from_the_newest_day(tmp_path):
    root = tmp_path / "storage"
    store_sample_stories(str(root), DAYS[:2])
    # The first day's first activity also stored under the second day (its start moved).
    moved_activities = pd.read_parquet(root / "strava_activities" / f"{DAYS[0]}.parquet").head(1)
    moved_stories = pd.read_parquet(root / "activity_stories" / f"{DAYS[0]}.parquet").head(1)
    moved_id = int(moved_activities["activity_id"].iloc[0])
    moved_activities["start_date"] = pd.Timestamp(f"{DAYS[1]}T23:59:00Z")
    for asset, frame in (
        ("strava_activities", moved_activities),
        ("activity_stories", moved_stories),
    ):
        day = pd.read_parquet(root / asset / f"{DAYS[1]}.parquet")
        pd.concat([day, frame]).to_parquet(root / asset / f"{DAYS[1]}.parquet")
    store = io_manager_at(str(root)).object_store.store
    second_day = pd.read_parquet(root / "activity_stories" / f"{DAYS[1]}.parquet")
    index_day(store, DAYS[1], second_day["activity_id"])  # as its stories run does

    clock = {"t": 0.0}
    reader = StoredActivities(store, lambda: clock["t"])
    records = reader.processed(100, None)
    ids = [record["activity_id"] for record in records]
    assert ids.count(moved_id) == 1
    assert records[0]["activity_id"] == moved_id  # 23:59 on the newest day
    assert reader.one(moved_id)["start_date"] == datetime(2026, 3, 2, 23, 59, tzinfo=UTC)

    store_sample_stories(str(root), [DAYS[2]])  # a new day shows at once
    newest = pd.read_parquet(root / "strava_activities" / f"{DAYS[2]}.parquet")
    assert reader.processed(1, None)[0]["activity_id"] in set(newest["activity_id"])
    before = datetime(2026, 3, 2, tzinfo=UTC) + timedelta(hours=1)
    assert all(r["start_date"] < before for r in reader.processed(100, Cursor(before)))
