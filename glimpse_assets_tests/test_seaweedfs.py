"""Storage on a real S3 server, SeaweedFS on 127.0.0.1 (glimpse_assets_tests/support/
seaweedfs.py), where moto cannot stand in: credentials are enforced, and the server can be
stopped and started again.

- Wrong credentials: every object store operation fails with one line that names the URI, the
  endpoint and what was refused, never the secret; a run fails with the same line.
- The server stopped in the middle of a range run (raw_news -> news_digest over four days): the
  run fails naming the day and the unreachable endpoint; what was stored before is all there,
  whole, and recorded; nothing of the day it stopped on or after. Started again on the same data,
  the same range run completes, and the stored objects equal a clean run's byte for byte.
- Two processes publishing the same day to the outbox on S3 (moto and SeaweedFS) publish once:
  the ledger claim is a create-if-absent PUT (`If-None-Match: *`) on the server.
"""

from __future__ import annotations

import dagster as dg
import pytest

from glimpse_assets.news.assets import news_digest, raw_news
from glimpse_assets.news.sources import SampleNewsSource
from glimpse_assets.storage.object_store import StorageError, open_object_store
from glimpse_assets_tests.support.failures import failure_text
from glimpse_assets_tests.support.publish_doubles import DAY, ledger_of
from glimpse_assets_tests.support.publish_race import assert_one_winner, race
from glimpse_assets_tests.support.seaweedfs import SeaweedFS
from glimpse_assets_tests.support.stores import io_manager_at

pytestmark = pytest.mark.process

DAYS = ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]
RANGE_TAGS = {
    "dagster/asset_partition_range_start": DAYS[0],
    "dagster/asset_partition_range_end": DAYS[-1],
}


def point_aws_at(monkeypatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def stored_objects(server: SeaweedFS, bucket: str) -> dict[str, bytes]:
    """Every object in `bucket`, read with the server's own credentials."""
    client = server.client()
    keys = [
        item["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
    ]
    return {key: client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


# -- wrong credentials ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrong", "refused"),
    [
        ("access key", "the server knows no such access key (AWS_ACCESS_KEY_ID)"),
        ("secret key", "the secret key does not match the access key (AWS_SECRET_ACCESS_KEY)"),
    ],
    ids=["wrong-access-key", "wrong-secret-key"],
)
def test_wrong_credentials_fail_every_operation_with_one_clear_line(
    seaweedfs, monkeypatch, wrong, refused
):
    bucket = "glimpse-credentials-" + wrong.split()[0]
    right = seaweedfs.client()
    right.create_bucket(Bucket=bucket)
    right.put_object(Bucket=bucket, Key="g/a/b.json", Body=b'{"kept": true}')
    wrong_secret = "not-the-secret-0123456789"
    env = seaweedfs.env()
    if wrong == "access key":
        env["AWS_ACCESS_KEY_ID"] = "no-such-key"
    else:
        env["AWS_SECRET_ACCESS_KEY"] = wrong_secret
    point_aws_at(monkeypatch, env)
    store = open_object_store(f"s3://{bucket}/g")

    operations = {
        "write": lambda: store.put("a/b.json", b"{}"),
        "read": lambda: store.get("a/b.json"),
        "lookup": lambda: store.exists("a/b.json"),
        "listing": lambda: store.list("a"),
        "create": lambda: store.create("a/c.json", b"{}"),
        "replace": lambda: store.replace("a/b.json", b"{}", etag="e"),
        "delete": lambda: store.delete("a/b.json"),
    }
    for action, operation in operations.items():
        with pytest.raises(StorageError) as failed:
            operation()
        message = str(failed.value)
        assert "\n" not in message
        prefix = f"S3 {action} of s3://{bucket}/g/a"
        assert message.startswith(prefix), message
        assert f"(endpoint {seaweedfs.endpoint_url}) failed: " in message
        if action == "lookup":  # a HEAD's 403 has no body to say which credential was wrong
            assert "access denied: wrong credentials" in message, message
        else:
            assert f"credentials refused: {refused}" in message, message
        assert seaweedfs.secret_key not in message and wrong_secret not in message
    # Nothing was written, replaced or deleted.
    assert stored_objects(seaweedfs, bucket) == {"g/a/b.json": b'{"kept": true}'}


def test_a_run_with_wrong_credentials_fails_saying_so(seaweedfs, monkeypatch):
    bucket = "glimpse-credentials-run"
    seaweedfs.client().create_bucket(Bucket=bucket)
    point_aws_at(monkeypatch, {**seaweedfs.env(), "AWS_ACCESS_KEY_ID": "no-such-key"})
    io_manager = io_manager_at(f"s3://{bucket}/glimpse")
    result = dg.materialize(
        [raw_news],
        partition_key=DAYS[0],
        resources={
            "io_manager": io_manager,
            "object_store": io_manager.object_store,
            "news_source": SampleNewsSource(),
        },
        raise_on_error=False,
    )
    assert not result.success
    text = failure_text(result)
    assert f"S3 write of s3://{bucket}/glimpse/raw_news/{DAYS[0]}.parquet" in text
    assert "credentials refused: the server knows no such access key" in text
    assert seaweedfs.secret_key not in text
    assert stored_objects(seaweedfs, bucket) == {}


# -- the server stopped in the middle of a range run, and started again -----------------------

_SERVERS: dict[str, SeaweedFS] = {}  # by endpoint: the servers a PlugPullingNewsSource may stop


class PlugPullingNewsSource(SampleNewsSource):
    """The sample news, except that fetching `stop_on_day` first stops the SeaweedFS server at
    `endpoint_url`: the day's news arrives, and its storage has gone."""

    stop_on_day: str
    endpoint_url: str

    def fetch_day(self, day):
        if day.isoformat() == self.stop_on_day:
            _SERVERS[self.endpoint_url].stop()
        return super().fetch_day(day)


@pytest.fixture
def own_seaweedfs(tmp_path, monkeypatch):
    """A SeaweedFS of this test's own (the session's server is not stopped under other tests),
    with AWS_* pointed at it."""
    with SeaweedFS(tmp_path / "seaweedfs", "glimpse-restart", "restart-secret-42") as server:
        _SERVERS[server.endpoint_url] = server
        point_aws_at(monkeypatch, server.env())
        try:
            yield server
        finally:
            del _SERVERS[server.endpoint_url]


def run_news_range(bucket: str, instance, news_source) -> dg.ExecuteInProcessResult:
    io_manager = io_manager_at(f"s3://{bucket}/glimpse")
    return dg.materialize(
        [raw_news, news_digest],
        resources={
            "io_manager": io_manager,
            "object_store": io_manager.object_store,
            "news_source": news_source,
        },
        instance=instance,
        tags=RANGE_TAGS,
        raise_on_error=False,
    )


def materialised_days(instance, asset: str, run_id: str) -> list[str]:
    """The days `run_id` recorded a materialisation of `asset` for (a range records a day when
    it is stored and again when the step ends)."""
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=100).records
    return sorted({r.partition_key for r in records if r.run_id == run_id})


def test_the_server_stopped_mid_range_fails_the_run_loses_nothing_and_a_re_run_completes(
    own_seaweedfs, monkeypatch
):
    server = own_seaweedfs
    # Connection refused is not retried, so the failure comes at once (botocore would otherwise
    # retry with back-off and fail the same way).
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    client = server.client()
    for bucket in ("glimpse-clean", "glimpse-stopped"):
        client.create_bucket(Bucket=bucket)

    with dg.instance_for_test() as instance:
        clean = run_news_range("glimpse-clean", instance, SampleNewsSource())
        assert clean.success, failure_text(clean)
        expected = stored_objects(server, "glimpse-clean")
        assert sorted(expected) == sorted(
            f"glimpse/{asset}/{day}.{ext}"
            for asset, ext in (("raw_news", "parquet"), ("news_digest", "json"))
            for day in DAYS
        )

        source = PlugPullingNewsSource(stop_on_day=DAYS[2], endpoint_url=server.endpoint_url)
        stopped = run_news_range("glimpse-stopped", instance, source)
        assert not server.running
        assert not stopped.success
        text = failure_text(stopped)
        assert f"raw_news failed for {DAYS[2]}" in text
        assert f"S3 write of s3://glimpse-stopped/glimpse/raw_news/{DAYS[2]}.parquet" in text
        assert f"(endpoint {server.endpoint_url}) failed: Could not connect" in text

        server.start()
        # Days 1-2 of raw_news were stored whole before the stop, and are recorded; nothing of
        # day 3 or 4, and news_digest (downstream of the failed step) did not run.
        after_stop = stored_objects(server, "glimpse-stopped")
        assert after_stop == {
            f"glimpse/raw_news/{day}.parquet": expected[f"glimpse/raw_news/{day}.parquet"]
            for day in DAYS[:2]
        }
        assert materialised_days(instance, "raw_news", stopped.run_id) == DAYS[:2]
        assert materialised_days(instance, "news_digest", stopped.run_id) == []

        again = run_news_range("glimpse-stopped", instance, SampleNewsSource())
        assert again.success, failure_text(again)
        assert stored_objects(server, "glimpse-stopped") == expected
        assert materialised_days(instance, "raw_news", again.run_id) == DAYS
        assert materialised_days(instance, "news_digest", again.run_id) == DAYS


# -- publishing exactly once on S3 ------------------------------------------------------------


def test_two_runs_of_the_same_day_write_the_outbox_once_on_s3(s3_server, s3_bucket):
    """As test_publish_exactly_once's outbox race, with the storage (and so the ledger's
    create-if-absent claim) on the S3 server; the two spawned workers inherit AWS_*."""
    uri = f"s3://{s3_bucket}/glimpse"
    outcomes, counts = race({"publisher": "outbox", "storage": uri, "day": DAY})

    winner, _ = assert_one_winner(outcomes)
    assert counts["finishes"] == 1
    from glimpse_assets.storage.resource import ObjectStoreResource

    object_store = ObjectStoreResource(storage_uri=uri)
    assert ledger_of(object_store).get(f"outbox/{DAY}") == winner["record"]
    assert object_store.records("outbox").names() == [f"{DAY}/post"]
    gallery = object_store.store.get("gallery/index.html").decode("utf-8")
    assert gallery.count("<article>") == 1
