"""A range whose storage fails half-way: every day is either its old object with its old
materialisation, or its new object with its new materialisation (issue 11, item 7).

The S3 faults are real: boto3 talks to a small HTTP proxy on 127.0.0.1 in front of the S3
server (moto or SeaweedFS), which forwards every request until it has let N object PUTs through
and then refuses every request (503) or disappears (drops the connection and stops listening).
The local fault is a day's object made immutable (`chattr +i`), so replacing it fails as a full
or read-only disk would.
"""

import json
import shutil
import subprocess

import dagster as dg
import pytest

from glimpse_assets.partitions import BACKFILL_POLICY, daily_partitions
from glimpse_assets.ranges import for_each_day
from glimpse_assets_tests.support.failures import failure_text
from glimpse_assets_tests.support.storage_faults import FaultyS3Proxy
from glimpse_assets_tests.support.stores import io_manager_at

DAYS = ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"]
# -- a range asset, one small JSON object a day --------------------------------------------------

VERSION = {"value": "old"}


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=BACKFILL_POLICY,
    kinds={"python", "json"},
)
def tallies(context: dg.AssetExecutionContext):
    return for_each_day(context, lambda day: {"day": day.isoformat(), "version": VERSION["value"]})


def run_range(manager, instance, version: str) -> dg.ExecuteInProcessResult:
    VERSION["value"] = version
    return dg.materialize(
        [tallies],
        resources={"io_manager": manager},
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": DAYS[0],
            "dagster/asset_partition_range_end": DAYS[-1],
        },
        raise_on_error=False,
    )


def latest_materialization(instance, key: dg.AssetKey, day: str):
    """The newest materialisation of `key` for `day` in the event log (its record)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=1
    ).records
    return records[0] if records else None


def assert_each_day_old_or_new(instance, stored: dict[str, bytes], old_run: str, new_run: str):
    """Days 1-2 are the new run's objects and the new run's materialisations; days 3-5 the old
    run's, both in storage and in the event log, and every record describes the stored bytes."""
    for day in DAYS:
        version = "new" if day in DAYS[:2] else "old"
        assert json.loads(stored[day]) == {"day": day, "version": version}, day
        record = latest_materialization(instance, tallies.key, day)
        assert record.run_id == (new_run if version == "new" else old_run), day
        metadata = record.asset_materialization.metadata
        assert metadata["size_bytes"].value == len(stored[day])
        assert metadata["uri"].value.endswith(f"tallies/{day}.json")


@pytest.mark.parametrize("then", ["refuse", "vanish"])
@pytest.mark.slow
def test_s3_failing_on_the_third_day_leaves_each_day_old_or_new_in_storage_and_event_log(
    s3_client, s3_bucket, s3_endpoint, monkeypatch, then
):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # the fault is the point: no retries
    uri = f"s3://{s3_bucket}/glimpse"
    with dg.instance_for_test() as instance:
        old = run_range(io_manager_at(uri), instance, "old")
        assert old.success, failure_text(old)

        with FaultyS3Proxy(s3_endpoint, allow_puts=2, then=then) as proxy:
            monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
            new = run_range(io_manager_at(uri), instance, "new")
        monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)

        assert not new.success
        assert proxy.puts == 2
        stored = {
            day: s3_client.get_object(Bucket=s3_bucket, Key=f"glimpse/tallies/{day}.json")[
                "Body"
            ].read()
            for day in DAYS
        }
        assert_each_day_old_or_new(instance, stored, old.run_id, new.run_id)
        assert "tallies failed for 2026-03-03" in failure_text(new)
        assert "S3 write" in failure_text(new)


@pytest.mark.slow
def test_local_storage_failing_on_the_third_day_leaves_each_day_old_or_new(tmp_path):
    root = tmp_path / "storage"
    with dg.instance_for_test() as instance:
        old = run_range(io_manager_at(str(root)), instance, "old")
        assert old.success, failure_text(old)
        third = root / "tallies" / f"{DAYS[2]}.json"
        if shutil.which("chattr") is None:
            pytest.skip("no chattr here to make an object immutable")
        if subprocess.run(["chattr", "+i", str(third)], capture_output=True).returncode != 0:
            pytest.skip("this filesystem or user cannot make a file immutable")
        try:
            new = run_range(io_manager_at(str(root)), instance, "new")
        finally:
            subprocess.run(["chattr", "-i", str(third)], check=True)

        assert not new.success
        stored = {day: (root / "tallies" / f"{day}.json").read_bytes() for day in DAYS}
        assert_each_day_old_or_new(instance, stored, old.run_id, new.run_id)
        assert "tallies failed for 2026-03-03" in failure_text(new)
        assert not [path for path in (root / "tallies").iterdir() if path.name.startswith(".")]


def test_a_range_that_succeeds_records_each_day_once_as_stored_and_once_by_dagster(tmp_path):
    # Dagster records a range output's partitions when the step ends; those records say what the
    # ones written as each day was stored say.
    with dg.instance_for_test() as instance:
        result = run_range(io_manager_at(str(tmp_path)), instance, "old")
        assert result.success

    by_day: dict[str, list] = {}
    for event in result.asset_materializations_for_node("tallies"):
        by_day.setdefault(event.partition, []).append(event.metadata)
    assert sorted(by_day) == DAYS
    for day, records in by_day.items():
        assert len(records) == 2
        assert records[0] == records[1]
        assert records[0]["size_bytes"].value == len(
            (tmp_path / f"tallies/{day}.json").read_bytes()
        )
