"""The object store when its storage fails: S3 stalled (SeaweedFS stopped with SIGSTOP), a local
root that is full (a 1 MB tmpfs) or read-only (the same tmpfs remounted). Stores opened for the
service give up on a stalled S3 within seconds; Dagster's runs keep boto3's patient defaults.

The storage faults themselves (`stalled`, `small_disk`, `fill`, `read_only`) are made by
glimpse_assets_tests/support/storage_faults.py.
"""

from __future__ import annotations

import errno
import time

import pytest

from glimpse_assets.storage.object_store import (
    REQUEST_LIMITS,
    LocalObjectStore,
    StorageFullError,
    StorageReadOnlyError,
    StorageUnavailableError,
    open_object_store,
    request_limits,
)
from glimpse_assets.storage.resource import ObjectStoreResource
from glimpse_assets_tests.support.storage_faults import fill, read_only, small_disk, stalled

# A stalled call may take at most 2 attempts of a 2 s connect and a 3 s read: far below this.
STALLED_CALL_BOUND = 15.0


@pytest.fixture
def bucket_on_seaweedfs(s3_bucket_on) -> str:
    """A fresh bucket on the session's SeaweedFS, with AWS_* pointed at it."""
    return s3_bucket_on("seaweedfs")[0]


def test_a_store_opened_for_requests_gives_up_on_a_stalled_s3_within_seconds(
    seaweedfs, bucket_on_seaweedfs
):
    with request_limits():
        store = open_object_store(f"s3://{bucket_on_seaweedfs}/glimpse")
    store.put("day/story.json", b"{}")
    with stalled(seaweedfs):
        started = time.monotonic()
        with pytest.raises(StorageUnavailableError, match=r"day/story\.json") as failed:
            store.get("day/story.json")
        elapsed = time.monotonic() - started
    assert elapsed < STALLED_CALL_BOUND  # boto3's defaults: 3 attempts of 60 s, ~180 s
    assert "timed out" in str(failed.value).lower() or "timeout" in str(failed.value).lower()
    assert store.get("day/story.json") == b"{}"  # answered again once the server runs


def test_a_resource_made_for_requests_is_bounded_and_one_made_for_runs_is_not(
    bucket_on_seaweedfs,
):
    uri = f"s3://{bucket_on_seaweedfs}/glimpse"
    with request_limits():
        service = ObjectStoreResource(storage_uri=uri)
    run = ObjectStoreResource(storage_uri=uri)
    service_config = service.store.client.meta.config
    run_config = run.store.client.meta.config
    limits = REQUEST_LIMITS
    assert (service_config.connect_timeout, service_config.read_timeout) == (
        limits.connect_seconds,
        limits.read_seconds,
    )
    assert service_config.retries["total_max_attempts"] == limits.attempts
    assert limits.longest_seconds <= 12  # a request's worth, not boto3's 180 s
    # Dagster's steps keep dagster-aws S3Resource's own client (botocore's 60 s timeouts, its
    # max_attempts retries): a slow store makes a step slow, not flaky.
    from dagster_aws.s3 import S3Resource

    assert (run_config.connect_timeout, run_config.read_timeout) == (60, 60)
    assert run_config.retries == {
        "mode": "standard",
        "total_max_attempts": S3Resource().max_attempts + 1,  # botocore counts the first too
    }


def test_a_full_local_root_is_a_storage_full_error(tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        store = LocalObjectStore(disk / "storage")
        etag = store.put("day/a.json", b"{}")
        assert store.check() is None
        fill(disk)
        for write in (
            lambda: store.put("day/b.json", b"x" * 10_000),
            lambda: store.create("other/c.json", b"x" * 10_000),
            lambda: store.replace("day/a.json", b"y" * 10_000, etag=etag),
        ):
            with pytest.raises(StorageFullError) as full:
                write()
            assert full.value.__cause__.errno in {errno.ENOSPC, errno.EDQUOT}
        with pytest.raises(StorageFullError):
            store.check()
        assert store.get("day/a.json") == b"{}"  # reads still work, the old object is whole


def test_a_read_only_local_root_is_a_storage_read_only_error(tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        store = LocalObjectStore(disk / "storage")
        store.put("day/a.json", b"{}")
        read_only(disk)
        for write in (
            lambda: store.put("day/b.json", b"{}"),
            lambda: store.create("day/c.json", b"{}"),
            lambda: store.delete("day/a.json"),
        ):
            with pytest.raises(StorageReadOnlyError) as refused:
                write()
            assert refused.value.__cause__.errno == errno.EROFS
        with pytest.raises(StorageReadOnlyError):
            store.check()
        assert store.get("day/a.json") == b"{}"
