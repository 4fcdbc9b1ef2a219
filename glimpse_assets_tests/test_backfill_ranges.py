"""Single-run backfills: one run over a range of days stores exactly what day-by-day runs store.

The range runs here carry the tags Dagster's CLI (`--partition-range`) and asset backfills put on
a single-run backfill; the assets, checks and resources are the real ones from `definitions`.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import yaml

from glimpse_assets.definitions import build_definitions
from glimpse_assets.llm.policy import LLM_POOL
from glimpse_assets.news.assets import news_assets
from glimpse_assets.partitions import (
    BACKFILL_POLICY,
    daily_partitions,
)
from glimpse_assets.rides.assets import rides_assets
from glimpse_assets.rides.checks import rides_checks
from glimpse_assets.storage.io_manager import StoredPartitions
from glimpse_assets_tests.support.failures import failure_text
from glimpse_assets_tests.support.ranges import (
    ALL_ASSETS,
    ALL_CHECKS,
    ASSET_FOLDERS,
    check_evaluations,
    offline_env,
    range_tags,
    whole_store,
)
from glimpse_assets_tests.support.stores import io_manager_at

DAYS = ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"]
RIDES_ASSETS = [news_assets[0], *rides_assets]  # raw_news feeds raw_rides' headlines
REPO = Path(__file__).resolve().parent.parent


def stored_objects(root: Path, folders: list[str]) -> dict[str, bytes]:
    """Every stored asset object under `root`, by its path relative to `root`."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for folder in folders
        for path in sorted((root / folder).rglob("*"))
        if path.is_file()
    }


def materialize(assets, env, instance, checks=(), **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*assets, *checks],
        resources=build_definitions(env).resources,
        instance=instance,
        raise_on_error=False,
        **kwargs,
    )


# -- the policies ----------------------------------------------------------------------------------


def offline_asset_graph():
    return build_definitions(offline_env(Path("unused"))).resolve_asset_graph()


def test_every_asset_shares_one_partitions_definition_and_the_single_run_policy():
    # One graph: any selection runs for a day or a range in one run, from the CLI
    # (`--partition-range` takes single-run assets only) or a backfill (one run for the lot).
    graph = offline_asset_graph()
    keys = graph.get_all_asset_keys()
    assert {graph.get(key).partitions_def for key in keys} == {daily_partitions}
    policies = {key.to_user_string(): graph.get(key).backfill_policy for key in keys}
    assert policies == {
        name: dg.BackfillPolicy.single_run()
        for name in (
            "raw_news",
            "news_digest",
            "image_prompt",
            "news_image",
            "social_post",
            "raw_rides",
            "clustered_rides",
            "anomaly_summaries",
            "rides_report",
            "rides_report_page",
            "article_chunks",
            "article_embeddings",
            "search_index",
            "strava_activities",
            "activity_stories",
            "sms_digest",
            "answers_given",
        )
    }
    assert dg.BackfillPolicy.single_run() == BACKFILL_POLICY
    # Every edge maps a day to the same day: nothing pulls other days into a backfill.
    for key in keys:
        for parent in graph.get(key).parent_keys:
            mapping = graph.get_partition_mapping(key, parent)
            assert isinstance(mapping, dg.IdentityPartitionMapping | dg.TimeWindowPartitionMapping)
            if isinstance(mapping, dg.TimeWindowPartitionMapping):
                assert (mapping.start_offset, mapping.end_offset) == (0, 0), (key, parent)


def test_an_asset_and_its_parent_of_the_same_days_can_share_a_backfill_run():
    # Dagster's asset backfill puts a parent and a child in one run only if they have the same
    # backfill policy and the same partitions definition; otherwise the child waits for the
    # parent's materialisations, seen at the daemon's next iteration (every 30 s). So every
    # edge between two assets of the same days has one policy on both ends.
    graph = offline_asset_graph()
    edges = [
        (parent, key)
        for key in graph.get_all_asset_keys()
        for parent in graph.get(key).parent_keys
        if graph.get(parent).partitions_def == graph.get(key).partitions_def
    ]
    assert len(edges) >= 15
    for parent, child in edges:
        assert graph.get(parent).backfill_policy == graph.get(child).backfill_policy, (
            parent,
            child,
        )


def test_provider_bound_steps_stay_in_the_llm_pool():
    # Runs and steps side by side (a range's steps, the runs of sensors and backfills): the
    # pool (2 slots, dagster.yaml) is what bounds the provider calls across all of them.
    graph = offline_asset_graph()
    pooled = {
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if LLM_POOL in (graph.get(key).pools or set())
    }
    assert pooled == {
        "image_prompt",
        "news_image",
        "anomaly_summaries",
        "article_embeddings",
        "activity_stories",
        "social_post",  # its caption
    }
    instance_file = yaml.safe_load((REPO / "dagster.yaml").read_text())
    assert instance_file["concurrency"]["pools"]["default_limit"] == 2


def test_a_day_runs_in_process_and_a_long_range_side_by_side():
    # A daily run pays one process start-up, not one per step; a long range (a backfill of a
    # year is one run) runs its lineages' steps side by side on the cores.
    from glimpse_assets.dagster_compat import InProcessExecutor, multiprocess_executor_class
    from glimpse_assets.range_executor import PARALLEL_FROM_DAYS, days_in_run

    defs = build_definitions(offline_env(Path("unused")))
    job = defs.resolve_implicit_global_asset_job_def()
    for name in ("news_job", "rides_job"):
        assert defs.resolve_job_def(name).executor_def == job.executor_def
    recon = dg.reconstructable(glimpse_global_job)
    executor = job.executor_def.executor_creation_fn(
        dg.InitExecutorContext(
            job=recon,
            executor_def=job.executor_def,
            executor_config={"max_concurrent": 0, "parallel_from_days": PARALLEL_FROM_DAYS},
            instance=dg.DagsterInstance.ephemeral(),
        )
    )
    assert isinstance(executor.chosen({"dagster/partition": "2026-03-01"}), InProcessExecutor)
    short = range_tags("2026-03-01", "2026-03-30")
    assert days_in_run(short) == 30
    assert isinstance(executor.chosen(short), InProcessExecutor)
    year = range_tags("2025-01-01", "2025-12-31")
    assert days_in_run(year) == 365
    assert isinstance(executor.chosen(year), multiprocess_executor_class())


def glimpse_global_job() -> dg.JobDefinition:
    return build_definitions({}).resolve_implicit_global_asset_job_def()


# -- one run over five days == five one-day runs ---------------------------------------------------


@pytest.mark.slow
def test_five_day_single_run_stores_what_five_single_day_runs_store_and_checks_each_day(tmp_path):
    by_day_root, range_root = tmp_path / "by_day", tmp_path / "range"
    by_day_results = {}
    with dg.instance_for_test() as instance:
        for day in DAYS:
            result = materialize(
                ALL_ASSETS, offline_env(by_day_root), instance, ALL_CHECKS, partition_key=day
            )
            assert result.success, failure_text(result)
            by_day_results[day] = result
    with dg.instance_for_test() as instance:
        result = materialize(
            ALL_ASSETS, offline_env(range_root), instance, ALL_CHECKS, tags=range_tags(*DAYS[::4])
        )
        assert result.success, failure_text(result)

    assert len(stored_objects(range_root, ASSET_FOLDERS)) == len(ASSET_FOLDERS) * len(DAYS)
    # Asset objects, the outbox, the publishing ledger and the gallery: all byte-identical.
    by_day, in_range = whole_store(by_day_root), whole_store(range_root)
    assert sorted(in_range) == sorted(by_day)
    assert {"gallery/index.html", "outbox/2026-03-05/post.json"} <= set(by_day)
    different = [name for name in by_day if by_day[name] != in_range[name]]
    assert different == []
    # Each day of every asset recorded when its object was stored, and again by Dagster when the
    # step ended, both with that day's own figures: the metadata a one-day run records.
    for asset in ALL_ASSETS:
        name = asset.key.path[-1]
        recorded: dict[str, list] = {}
        for event in result.asset_materializations_for_node(name):
            recorded.setdefault(event.partition, []).append(event.metadata)
        assert sorted(recorded) == DAYS
        for day, (as_stored, at_the_end) in recorded.items():
            assert as_stored == at_the_end
            (one_day,) = by_day_results[day].asset_materializations_for_node(name)
            assert sorted(as_stored) == sorted(one_day.metadata), (name, day)
    clustered = {
        event.partition: event.metadata
        for event in result.asset_materializations_for_node("clustered_rides")
    }
    for day in DAYS:
        frame = pd.read_parquet(range_root / "clustered_rides" / f"{day}.parquet")
        assert clustered[day]["rows"].value == len(frame)
        assert clustered[day]["anomalies"].value == int(frame["is_anomaly"].sum())
    # Every check has a result per day, and one for the range that counts them.
    evaluations = check_evaluations(result)
    for check in ALL_CHECKS:
        name = next(iter(check.check_keys)).name
        per_day = [e for e in evaluations if e.check_name == name and e.partition is not None]
        assert sorted(e.partition for e in per_day) == DAYS
        (summary,) = [e for e in evaluations if e.check_name == name and e.partition is None]
        assert summary.metadata["days_checked"].value == len(DAYS)
    labelled = [
        e for e in evaluations if e.check_name == "clustered_rides_are_all_labelled" and e.partition
    ]
    assert all(e.passed for e in labelled)


# -- reading a range downstream --------------------------------------------------------------------


@pytest.mark.slow
def test_reports_over_a_range_read_what_single_day_runs_stored(tmp_path):
    root = tmp_path / "storage"
    with dg.instance_for_test() as instance:
        for day in DAYS:
            assert materialize(RIDES_ASSETS, offline_env(root), instance, partition_key=day).success
        by_day = stored_objects(root, ["rides_report", "rides_report_page"])
        for path in [*(root / "rides_report").iterdir(), *(root / "rides_report_page").iterdir()]:
            path.unlink()

        reports = [asset for asset in rides_assets if asset.key.path[-1].startswith("rides_report")]
        result = materialize(
            RIDES_ASSETS,
            offline_env(root),
            instance,
            selection=reports,
            tags=range_tags(*DAYS[::4]),
        )
        assert result.success, failure_text(result)

    assert stored_objects(root, ["rides_report", "rides_report_page"]) == by_day


def test_a_range_input_is_read_one_day_at_a_time_when_asked_for(tmp_path):
    manager = io_manager_at(str(tmp_path))
    for day in DAYS[:3]:
        manager.store.put(f"counts/{day}.json", f'{{"day": "{day}"}}'.encode(), "x")

    @dg.asset(partitions_def=daily_partitions, kinds={"json"})
    def counts():
        raise AssertionError("not run: its objects are already stored")

    seen = {}

    @dg.asset(
        partitions_def=daily_partitions,
        backfill_policy=BACKFILL_POLICY,
        deps=[],
        ins={"counts": dg.AssetIn(key=counts.key)},
    )
    def reader(context, counts):
        seen["type"] = type(counts)
        seen["keys"] = list(counts)
        seen["values"] = [counts[day]["day"] for day in counts]
        return {day: {"read": counts[day]["day"]} for day in context.partition_keys}

    result = dg.materialize(
        [counts, reader],
        selection=[reader],
        resources={"io_manager": manager},
        tags=range_tags(DAYS[0], DAYS[2]),
    )

    assert result.success
    assert seen == {"type": StoredPartitions, "keys": DAYS[:3], "values": DAYS[:3]}
    for day in DAYS[:3]:
        assert json.loads((tmp_path / "reader" / f"{day}.json").read_text()) == {"read": day}


# -- a bad day in a range --------------------------------------------------------------------------


def tlc_trips(day: str, rides: int) -> pd.DataFrame:
    """A day of TLC yellow trip records (the TLC's own column names), seeded by the day."""
    rng = np.random.default_rng(date.fromisoformat(day).toordinal())
    start = pd.Timestamp(day)
    pickups = start + pd.to_timedelta(np.sort(rng.uniform(0, 86_000, rides)), unit="s")
    minutes = rng.gamma(4.0, 4.0, rides) + 1
    miles = np.round(minutes * rng.uniform(0.15, 0.3, rides), 2)
    return pd.DataFrame(
        {
            "VendorID": np.ones(rides, dtype=np.int32),
            "tpep_pickup_datetime": pickups.astype("datetime64[us]"),
            "tpep_dropoff_datetime": (pickups + pd.to_timedelta(minutes, unit="m")).astype(
                "datetime64[us]"
            ),
            "passenger_count": np.ones(rides),
            "trip_distance": miles,
            "fare_amount": np.full(rides, 12.5),
        }
    )


@pytest.fixture
def tlc_folder(tmp_path) -> Path:
    folder = tmp_path / "tlc"
    folder.mkdir()
    for day in DAYS:
        tlc_trips(day, 400).to_parquet(folder / f"yellow_{day}.parquet", index=False)
    return folder


def latest_run_of(instance: dg.DagsterInstance, name: str, day: str) -> str | None:
    """The run of the newest materialisation of asset `name` for `day` in the event log."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(name), asset_partitions=[day]), limit=1
    ).records
    return records[0].run_id if records else None


@pytest.mark.slow
def test_a_bad_day_fails_the_range_naming_it_and_each_day_is_old_or_new(tmp_path, tlc_folder):
    root = tmp_path / "storage"
    env = offline_env(root, GLIMPSE_RIDES_SOURCE=str(tlc_folder / "yellow_{date}.parquet"))
    with dg.instance_for_test() as instance:
        first = materialize(RIDES_ASSETS, env, instance, rides_checks, tags=range_tags(*DAYS[::4]))
        assert first.success, failure_text(first)
        before = stored_objects(root, ASSET_FOLDERS)
        assert len(before) == len(RIDES_ASSETS) * len(DAYS)

        # 2026-03-03's file loses its distance column; the other days are new and valid.
        bad = tlc_trips("2026-03-03", 400).drop(columns=["trip_distance"])
        bad.to_parquet(tlc_folder / "yellow_2026-03-03.parquet", index=False)
        for day in (DAYS[0], DAYS[1], DAYS[3], DAYS[4]):
            tlc_trips(day, 500).to_parquet(tlc_folder / f"yellow_{day}.parquet", index=False)
        second = materialize(RIDES_ASSETS, env, instance, rides_checks, tags=range_tags(*DAYS[::4]))
        latest = {
            (name, day): latest_run_of(instance, name, day)
            for name in ("raw_rides", "clustered_rides")
            for day in DAYS
        }

    assert not second.success
    text = failure_text(second)
    assert "raw_rides failed for 2026-03-03" in text
    assert "trip_distance" in text
    (failed_step,) = [event.step_key for event in second.get_step_failure_events()]
    assert failed_step == "raw_rides"
    # raw_rides stored the two days before the bad one, and the event log says so; the bad day
    # and those after it are the first run's objects and materialisations, as is every day of
    # the assets downstream (which did not run).
    after = stored_objects(root, ASSET_FOLDERS)
    changed = sorted(name for name in before if after[name] != before[name])
    assert changed == ["raw_rides/2026-03-01.parquet", "raw_rides/2026-03-02.parquet"]
    for day in DAYS[:2]:
        assert len(pd.read_parquet(root / "raw_rides" / f"{day}.parquet")) == 500
        assert latest[("raw_rides", day)] == second.run_id
    for day in DAYS[2:]:
        assert latest[("raw_rides", day)] == first.run_id
    assert {latest[("clustered_rides", day)] for day in DAYS} == {first.run_id}


def test_a_failure_inside_a_day_keeps_its_retry_decision_and_names_the_day():
    from glimpse_assets.ranges import day_failure

    failure = day_failure(
        "image_prompt", "2026-03-02", dg.Failure(description="rejected", allow_retries=False)
    )
    assert isinstance(failure, dg.Failure)
    assert failure.description == "image_prompt failed for 2026-03-02: rejected"
    assert failure.allow_retries is False
    assert failure.metadata["failed_day"].value == "2026-03-02"

    other = day_failure("raw_rides", "2026-03-03", KeyError("trip_distance"))
    assert str(other) == "raw_rides failed for 2026-03-03: KeyError: 'trip_distance'"
