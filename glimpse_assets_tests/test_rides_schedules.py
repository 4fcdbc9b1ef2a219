"""Each source is fetched once a day: raw_news belongs to news_job alone, and rides_job starts
from the day's stored raw_news (rides_after_news_sensor), never fetching the news itself."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from glimpse_assets.definitions import build_definitions
from glimpse_assets.news.assets import raw_news
from glimpse_assets.rides.schedules import rides_after_news_sensor

RIDES_ASSETS = {
    "raw_rides",
    "clustered_rides",
    "anomaly_summaries",
    "rides_report",
    "rides_report_page",
}
DAY = "2026-03-01"


@pytest.fixture
def storage(tmp_path) -> Path:
    return tmp_path / "storage"


@pytest.fixture
def defs(storage) -> dg.Definitions:
    return build_definitions({"GLIMPSE_STORAGE_URI": str(storage), "GLIMPSE_RIDES_PER_DAY": "1000"})


def news_only(defs: dg.Definitions, instance: dg.DagsterInstance, day: str, **kwargs):
    """A news_job run that stores raw_news for `day` (the rest of the news chain left out)."""
    return defs.resolve_job_def("news_job").execute_in_process(
        partition_key=day if "tags" not in kwargs else None,
        instance=instance,
        asset_selection=[dg.AssetKey("raw_news")],
        **kwargs,
    )


def evaluate(instance: dg.DagsterInstance, defs: dg.Definitions, cursor: str | None = None):
    resources = {"object_store": defs.resources["object_store"]}
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, resources=resources
    )
    return rides_after_news_sensor.evaluate_tick(context)


def test_rides_job_does_not_include_raw_news_but_keeps_its_checks(defs):
    job = defs.resolve_job_def("rides_job")

    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == RIDES_ASSETS
    check_names = {key.name for key in job.asset_layer.asset_graph.asset_check_keys}
    assert "raw_news_has_articles" not in check_names
    assert {"clustered_rides_are_all_labelled", "anomaly_rate_is_within_band"} <= check_names


def test_no_rides_schedule_and_a_running_sensor_targets_rides_job(defs):
    repository = defs.get_repository_def()
    # The news chain's and the stories' morning schedules; rides start after the news.
    assert {s.job_name for s in repository.schedule_defs} == {"news_job", "stories_job"}
    sensor = repository.get_sensor_def("rides_after_news_sensor")
    assert sensor.job_name == "rides_job"
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_a_one_day_news_run_starts_rides_for_that_day_and_rides_reuse_its_news(defs, storage):
    with dg.instance_for_test() as instance:
        news = news_only(defs, instance, DAY)
        assert news.success
        fetched = (storage / "raw_news" / f"{DAY}.parquet").read_bytes()

        tick = evaluate(instance, defs)
        (request,) = tick.run_requests
        assert request.partition_key == DAY
        assert request.run_key == f"{DAY}:{news.run_id}"
        assert tick.cursor is not None

        # Nothing new: the next tick asks for nothing.
        again = evaluate(instance, defs, tick.cursor)
        assert not again.run_requests and again.skip_message

        # The run the sensor asks for: the rides chain on the stored raw_news, not a new fetch.
        rides = defs.resolve_job_def("rides_job").execute_in_process(
            partition_key=request.partition_key, instance=instance, tags=request.tags
        )
        assert rides.success
        materialized = {
            e.asset_key.to_user_string() for e in rides.get_asset_materialization_events()
        }
        assert materialized == RIDES_ASSETS
        assert (storage / "raw_news" / f"{DAY}.parquet").read_bytes() == fetched
        records = instance.fetch_materializations(dg.AssetKey("raw_news"), limit=10).records
        assert [record.run_id for record in records] == [news.run_id]  # fetched once


def test_range_runs_and_other_jobs_start_no_rides_run(defs):
    with dg.instance_for_test() as instance:
        assert not evaluate(instance, defs).run_requests  # nothing materialised yet
        assert news_only(defs, instance, "2026-02-28").success
        tick = evaluate(instance, defs)
        assert [r.partition_key for r in tick.run_requests] == ["2026-02-28"]

        ranged = news_only(  # a range run of news_job, as a backfill of it runs
            defs,
            instance,
            DAY,
            tags={
                "dagster/asset_partition_range_start": "2026-03-01",
                "dagster/asset_partition_range_end": "2026-03-02",
            },
        )
        assert ranged.success
        assert {e.partition for e in ranged.get_asset_materialization_events()} == {
            "2026-03-01",
            "2026-03-02",
        }
        tick = evaluate(instance, defs, tick.cursor)
        assert not tick.run_requests and "backfill" in tick.skip_message

        other = dg.materialize(  # raw_news alone, outside news_job
            [raw_news], partition_key="2026-03-03", instance=instance, resources=defs.resources
        )
        assert other.success
        tick = evaluate(instance, defs, tick.cursor)
        assert not tick.run_requests and tick.cursor is not None


def test_the_first_tick_looks_only_at_the_newest_raw_news(defs):
    with dg.instance_for_test() as instance:
        assert news_only(defs, instance, "2026-03-01").success
        newest = news_only(defs, instance, "2026-03-02")
        (request,) = evaluate(instance, defs).run_requests
        assert (request.partition_key, request.run_key) == (
            "2026-03-02",
            f"2026-03-02:{newest.run_id}",
        )


def test_a_day_this_storage_does_not_hold_starts_nothing(defs, storage, tmp_path):
    # The instance remembers raw_news of a day, but the storage it is used with now does not
    # hold it (another GLIMPSE_STORAGE_URI, or a storage since cleaned): a rides run for it
    # could only fail and send a failure notice.
    with dg.instance_for_test() as instance:
        elsewhere = build_definitions({"GLIMPSE_STORAGE_URI": str(tmp_path / "elsewhere")})
        assert news_only(elsewhere, instance, DAY).success
        assert not (storage / "raw_news").exists()

        tick = evaluate(instance, defs)
        assert not tick.run_requests
        assert f"raw_news of {DAY} is not in this storage" in tick.skip_message
        assert tick.cursor is not None  # looked at, not asked about again

        # The same day once this storage holds it (a new one-day news run): one run.
        news = news_only(defs, instance, DAY)
        (request,) = evaluate(instance, defs, tick.cursor).run_requests
        assert request.run_key == f"{DAY}:{news.run_id}"
