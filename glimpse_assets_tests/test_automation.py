"""Declarative automation (glimpse_assets/automation.py): the chains that read another chain's day
follow a one-day run that stored it, once, in this storage; backfills, range runs and days this
storage does not hold start nothing. Evaluated on a real instance with Dagster's public tester
(`dg.evaluate_automation_conditions`) and through the one automation sensor itself."""

from pathlib import Path

import dagster as dg
import pytest

from glimpse_assets import partitions
from glimpse_assets.automation import automation_sensor, bind_automation
from glimpse_assets.definitions import build_definitions
from glimpse_assets.partitions import today_utc
from glimpse_assets.rides.assets import rides_assets

DAY = "2026-03-01"
RIDES = {"raw_rides", "clustered_rides", "anomaly_summaries", "rides_report", "rides_report_page"}
SEARCH = {"article_chunks", "article_embeddings", "search_index"}
RANGE_TAGS = {
    "dagster/asset_partition_range_start": "2026-03-01",
    "dagster/asset_partition_range_end": "2026-03-02",
}


def env_at(storage: Path, **extra: str) -> dict[str, str]:
    return {"GLIMPSE_STORAGE_URI": str(storage), "GLIMPSE_RIDES_PER_DAY": "1000", **extra}


@pytest.fixture
def storage(tmp_path) -> Path:
    return tmp_path / "storage"


@pytest.fixture
def defs(storage) -> dg.Definitions:
    return build_definitions(env_at(storage))


def news_only(defs: dg.Definitions, instance, day: str | None = DAY, **kwargs):
    """A news_job run that stores raw_news (the rest of the news chain left out)."""
    result = defs.resolve_job_def("news_job").execute_in_process(
        partition_key=day, instance=instance, asset_selection=[dg.AssetKey("raw_news")], **kwargs
    )
    assert result.success
    return result


class Ticks:
    """Successive evaluations of every automation condition of `defs`, as the sensor's ticks."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance):
        self.defs, self.instance, self.cursor = defs, instance, None

    def __call__(self) -> dict[str, set[str]]:
        """What this tick requests: asset -> days."""
        result = dg.evaluate_automation_conditions(
            defs=self.defs, instance=self.instance, cursor=self.cursor
        )
        self.cursor = result.cursor
        keys = self.defs.resolve_asset_graph().get_all_asset_keys()
        requested = {key.to_user_string(): result.get_requested_partitions(key) for key in keys}
        return {name: set(days) for name, days in requested.items() if days}


def requested(days: set[str], *assets: set[str]) -> dict[str, set[str]]:
    return {name: days for group in assets for name in group}


def test_one_automation_sensor_runs_in_the_code_location_and_no_after_news_sensor(storage):
    defs = build_definitions(env_at(storage, GLIMPSE_SMS="on"))
    repository = defs.get_repository_def()

    names = {sensor.name for sensor in repository.sensor_defs}
    # Sensors are left for what Dagster cannot see: Strava, the inbox, failed runs.
    assert names == {
        "glimpse_automation_sensor",
        "ingested_documents_sensor",
        "notify_on_run_failure",
        "strava_activities_sensor",
    }
    sensor = repository.get_sensor_def("glimpse_automation_sensor")
    assert sensor is automation_sensor
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    graph = defs.resolve_asset_graph()
    automated = {
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if graph.get(key).automation_condition is not None
    }
    assert automated == RIDES | SEARCH | {"sms_digest"}
    heads = {
        name
        for name in automated
        if graph.get(dg.AssetKey(name)).automation_condition.get_label() == "follows_upstream_day"
    }
    assert heads == {"raw_rides", "article_chunks", "sms_digest"}
    # Evaluated in the code location (the daemon could not load the storage check): a sensor
    # evaluated by the daemon refuses to be evaluated here.
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, definitions=defs)
        assert automation_sensor.evaluate_tick(context).run_requests == []


@pytest.mark.slow
def test_a_one_day_news_run_starts_rides_and_search_for_that_day_once(defs):
    with dg.instance_for_test() as instance:
        tick = Ticks(defs, instance)
        assert tick() == {}
        news_only(defs, instance)

        assert tick() == requested({DAY}, RIDES, SEARCH)
        assert tick() == {}  # followed once

        news_only(defs, instance)  # the day's news again, by a new one-day run: followed again
        assert tick() == requested({DAY}, RIDES, SEARCH)


@pytest.mark.slow
def test_the_sensor_asks_for_one_run_of_the_days_chains_that_reads_the_stored_news(defs, storage):
    with dg.instance_for_test() as instance:
        first = automation_sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, definitions=defs)
        )
        news = news_only(defs, instance)
        fetched = (storage / "raw_news" / f"{DAY}.parquet").read_bytes()

        tick = automation_sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, definitions=defs, cursor=first.cursor)
        )
        (request,) = tick.run_requests
        assert request.partition_key == DAY
        assert {key.to_user_string() for key in request.asset_selection} == RIDES | SEARCH
        # The chains' checks ride along, the blocking one on clustered_rides among them.
        assert {key.name for key in request.asset_check_keys} == {
            "clustered_rides_are_all_labelled",
            "anomaly_rate_is_within_band",
            "search_index_finds_the_main_story",
            "anomaly_summaries_are_grounded",
            "search_index_quality",
        }

        run = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            partition_key=request.partition_key,
            asset_selection=list(request.asset_selection),
            instance=instance,
            tags=request.tags,
        )
        assert run.success
        made = {e.asset_key.to_user_string() for e in run.get_asset_materialization_events()}
        assert made == RIDES | SEARCH
        assert (storage / "raw_news" / f"{DAY}.parquet").read_bytes() == fetched
        records = instance.fetch_materializations(dg.AssetKey("raw_news"), limit=10).records
        assert [record.run_id for record in records] == [news.run_id]  # fetched once

        again = automation_sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, definitions=defs, cursor=tick.cursor)
        )
        assert again.run_requests == []


@pytest.mark.slow
def test_a_backfill_or_a_range_run_of_the_news_starts_nothing(defs):
    # Backfill the other chains with their own backfill: it reads each day's stored raw_news.
    with dg.instance_for_test() as instance:
        tick = Ticks(defs, instance)
        tick()
        ranged = news_only(defs, instance, day=None, tags=RANGE_TAGS)  # as the CLI's range runs
        days = {e.partition for e in ranged.get_asset_materialization_events()}
        assert days == {"2026-03-01", "2026-03-02"}
        assert tick() == {}

        news_only(defs, instance, "2026-03-03", tags={"dagster/backfill": "abcdefgh"})
        assert tick() == {}

        news_only(defs, instance, "2026-03-04")  # a one-day run after them is followed
        assert tick() == requested({"2026-03-04"}, RIDES, SEARCH)


@pytest.mark.slow
def test_a_run_that_made_a_chain_with_the_news_does_not_start_that_chain_again(defs):
    # A run of everything for a day (`make run`, a run of the whole graph) made rides itself.
    with dg.instance_for_test() as instance:
        tick = Ticks(defs, instance)
        tick()
        run = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            partition_key=DAY,
            asset_selection=[dg.AssetKey("raw_news"), *(a.key for a in rides_assets)],
            instance=instance,
        )
        assert run.success

        assert tick() == requested({DAY}, SEARCH)


@pytest.mark.slow
def test_a_day_this_storage_does_not_hold_starts_nothing(defs, storage, tmp_path):
    # The instance remembers raw_news of a day, but the storage it is used with now does not hold
    # it (another GLIMPSE_STORAGE_URI, or a storage since cleaned): a run for it could only fail.
    with dg.instance_for_test() as instance:
        tick = Ticks(defs, instance)
        tick()
        news_only(build_definitions(env_at(tmp_path / "elsewhere")), instance)
        assert not (storage / "raw_news").exists()
        assert tick() == {}

        news_only(defs, instance)  # the same day once this storage holds it
        assert tick() == requested({DAY}, RIDES, SEARCH)


@pytest.mark.slow
def test_the_days_post_starts_the_sms_chain_which_holds_a_day_not_over(storage):
    # Today's partition is the day so far: its post is held, and so is its text.
    today = today_utc().isoformat()
    defs = build_definitions(env_at(storage, GLIMPSE_SMS="on"))
    with dg.instance_for_test() as instance:
        tick = Ticks(defs, instance)
        tick()
        news = defs.resolve_job_def("news_job").execute_in_process(
            partition_key=today, instance=instance
        )
        assert news.success

        assert tick() == requested({today}, RIDES, SEARCH, {"sms_digest"})
        sms = defs.resolve_job_def("sms_job").execute_in_process(
            partition_key=today, instance=instance
        )
        assert sms.success
        stored = (storage / "sms_digest" / f"{today}.json").read_text()
        assert '"channel": "held"' in stored
        assert tick() == {}


def test_with_the_channel_off_nothing_starts_the_sms_chain(storage):
    # As the after-post sensor was stopped: a run by hand still stores the day's "off" record.
    graph = build_definitions(env_at(storage, GLIMPSE_SMS="off")).resolve_asset_graph()
    assert graph.get(dg.AssetKey("sms_digest")).automation_condition is None
    assert graph.get(dg.AssetKey("raw_rides")).automation_condition is not None


def test_the_storage_check_must_be_bound_before_it_is_evaluated(defs):
    # The decorators declare the condition; a domain's Definitions binds it to its storage.
    raw_news = dg.AssetSpec("raw_news", partitions_def=partitions.daily_partitions)
    unbound = dg.Definitions(assets=[*rides_assets, raw_news], resources=defs.resources)
    with dg.instance_for_test() as instance:
        cursor = dg.evaluate_automation_conditions(defs=unbound, instance=instance).cursor
        news_only(defs, instance)
        with pytest.raises(Exception, match="raw_rides") as failed:
            dg.evaluate_automation_conditions(defs=unbound, instance=instance, cursor=cursor)
        assert "bind_automation" in str(failed.value.__cause__)

        bound = dg.Definitions(
            assets=[*bind_automation(rides_assets, defs.resources["object_store"]), raw_news],
            resources=defs.resources,
        )
        result = dg.evaluate_automation_conditions(defs=bound, instance=instance, cursor=cursor)
        assert result.get_requested_partitions(dg.AssetKey("raw_rides")) == {DAY}
