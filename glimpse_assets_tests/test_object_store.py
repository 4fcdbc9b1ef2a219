"""The object store, local (tmp_path) and S3 (moto and SeaweedFS on 127.0.0.1): round trips, atomic
writes, and the conditional writes under races between threads and between processes."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from glimpse_assets.storage import object_store as object_store_module
from glimpse_assets.storage.object_store import (
    LOCK_STRIPES,
    AlreadyExistsError,
    LocalObjectStore,
    ObjectChangedError,
    ObjectNotFoundError,
    ObjectStore,
    S3ObjectStore,
    StorageError,
    lock_stripe,
    open_object_store,
)

THREADS = 8
PROCESSES = 4


@pytest.fixture(params=["local", "moto", "seaweedfs"])
def store_location(request, tmp_path, s3_bucket_on) -> tuple[str, str | None]:
    """(uri, endpoint) of an empty store; for S3 a fresh bucket on moto or SeaweedFS.

    moto 5.2.5 checks If-None-Match / If-Match and then stores the object without a lock, so
    in principle two racing conditional PUTs could both pass; at Python's default 5 ms thread
    switch interval that window was never hit in 1000 rounds of 16 threads."""
    if request.param == "local":
        return str(tmp_path / "store"), None
    bucket, server = s3_bucket_on(request.param)
    return f"s3://{bucket}/glimpse/root", server.endpoint_url


@pytest.fixture
def store(store_location) -> ObjectStore:
    uri, endpoint = store_location
    return open_object_store(uri, endpoint_url=endpoint)


def run_together(count: int, work) -> list:
    """Run work(i) in `count` threads released at once by a barrier; results or exceptions."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        barrier.wait(timeout=60)
        try:
            results[i] = work(i)
        except Exception as error:
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.slow
def test_put_get_exists_list_delete_round_trip(store):
    key = "news/raw_news/2026-11-20.parquet"
    assert not store.exists(key)

    etag = store.put(key, b"first", "application/vnd.apache.parquet")
    assert isinstance(etag, str) and etag and '"' not in etag
    assert store.exists(key)
    assert store.get(key) == b"first"
    assert store.get_versioned(key) == (b"first", etag)
    assert store.list("news") == [key]

    second = store.put(key, b"second")
    assert second != etag
    assert store.get_versioned(key) == (b"second", second)

    store.delete(key)
    assert not store.exists(key)
    assert store.list("news") == []
    store.delete(key)  # absent: no error
    with pytest.raises(ObjectNotFoundError, match="no stored object") as missing:
        store.get(key)
    assert store.uri(key) in str(missing.value)
    with pytest.raises(ObjectNotFoundError):
        store.get_versioned(key)


def test_list_is_folder_like_sorted_and_relative_to_the_root(store):
    for key in ["a/b/2.json", "a/b/1.json", "a/b/c/3.json", "a/bc/4.json", "z.json"]:
        store.put(key, key.encode())
    assert store.list("a/b") == ["a/b/1.json", "a/b/2.json", "a/b/c/3.json"]
    assert store.list("a") == ["a/b/1.json", "a/b/2.json", "a/b/c/3.json", "a/bc/4.json"]
    assert store.list("") == ["a/b/1.json", "a/b/2.json", "a/b/c/3.json", "a/bc/4.json", "z.json"]
    assert store.list("missing") == []


@pytest.mark.parametrize("key", ["", "/abs", "../escape", "a//b", "a/", ".hidden", "a/.lock"])
@pytest.mark.slow
def test_invalid_keys_are_rejected(store, key):
    with pytest.raises(ValueError, match="invalid object key"):
        store.put(key, b"x")


def test_local_list_skips_temp_and_lock_files(tmp_path):
    store = LocalObjectStore(tmp_path)
    etag = store.put("day/post.json", b"{}")
    store.replace("day/post.json", b"{ }", etag=etag)
    store.create("day/image.png", b"png")
    (tmp_path / "day" / ".image.png.0123abcd.tmp").write_bytes(b"half")
    (tmp_path / "day" / ".hidden").mkdir()
    (tmp_path / "day" / ".hidden" / "file").write_bytes(b"x")
    assert store.lock_file("day/post.json").exists()  # in a hidden folder of its own
    assert store.lock_file("day/post.json").parent == tmp_path / ".locks"
    assert sorted(p.name for p in (tmp_path / "day").iterdir() if not p.name.startswith(".")) == [
        "image.png",
        "post.json",
    ]

    assert store.list("day") == ["day/image.png", "day/post.json"]
    assert store.list("") == ["day/image.png", "day/post.json"]


def test_local_files_get_umask_permissions_not_owner_only(tmp_path):
    old = os.umask(0o022)
    try:
        store = LocalObjectStore(tmp_path)
        store.put("a.bin", b"a")
        store.create("b.bin", b"b")
        store.replace("b.bin", b"c", etag=store.get_versioned("b.bin")[1])
    finally:
        os.umask(old)
    for name in ["a.bin", "b.bin"]:
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644


def test_s3_keys_live_under_the_prefix(s3_client, s3_bucket, s3_endpoint):
    s3_client.put_object(Bucket=s3_bucket, Key="elsewhere/x.txt", Body=b"not ours")
    s3_client.put_object(Bucket=s3_bucket, Key="deep/prefix/folder/", Body=b"")  # console marker
    store = open_object_store(f"s3://{s3_bucket}/deep/prefix/", endpoint_url=s3_endpoint)

    etag = store.put("folder/a.txt", b"a", "text/plain")

    assert store.uri("folder/a.txt") == f"s3://{s3_bucket}/deep/prefix/folder/a.txt"
    raw = s3_client.head_object(Bucket=s3_bucket, Key="deep/prefix/folder/a.txt")
    assert raw["ETag"] == f'"{etag}"'
    assert raw["ContentType"] == "text/plain"
    assert store.list("folder") == ["folder/a.txt"]
    assert store.list("") == ["folder/a.txt"]
    with urllib.request.urlopen(store.presigned_url("folder/a.txt", seconds=600)) as response:
        assert response.read() == b"a"


# --- atomic writes ---------------------------------------------------------------------------


@pytest.mark.parametrize("failing", ["os.replace", "os.fsync"])
@pytest.mark.parametrize("operation", ["put", "replace"])
def test_local_write_failing_half_way_keeps_old_content(tmp_path, monkeypatch, failing, operation):
    store = LocalObjectStore(tmp_path)
    etag = store.put("obj.bin", b"old content")

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing.split(".")[1], broken)
    with pytest.raises(StorageError, match="No space left on device") as failed:
        if operation == "put":
            store.put("obj.bin", b"new content that never lands")
        else:
            store.replace("obj.bin", b"new content that never lands", etag=etag)
    monkeypatch.undo()

    assert str(tmp_path / "obj.bin") in str(failed.value)
    assert store.get_versioned("obj.bin") == (b"old content", etag)
    assert sorted(path.name for path in tmp_path.iterdir()) == [".locks", "obj.bin"]  # no temp


def test_local_create_under_a_file_is_a_storage_error_not_already_exists(tmp_path):
    store = LocalObjectStore(tmp_path)
    store.put("a", b"a file where a folder would go")
    with pytest.raises(StorageError) as failed:
        store.create("a/b", b"x")
    assert not isinstance(failed.value, AlreadyExistsError)


def test_local_delete_of_an_absent_key_makes_nothing(tmp_path):
    store = LocalObjectStore(tmp_path)
    store.delete("no/such/key")
    assert list(tmp_path.iterdir()) == []


def test_local_create_failing_half_way_leaves_nothing(tmp_path, monkeypatch):
    store = LocalObjectStore(tmp_path)

    def broken(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "link", broken)
    with pytest.raises(StorageError, match="Input/output error"):
        store.create("obj.bin", b"data")
    monkeypatch.undo()
    assert not store.exists("obj.bin")
    assert list(tmp_path.iterdir()) == []


# --- create if absent ------------------------------------------------------------------------


def test_create_writes_only_if_absent(store):
    etag = store.create("ledger/x.json", b"one")
    assert store.get_versioned("ledger/x.json") == (b"one", etag)
    with pytest.raises(AlreadyExistsError, match="already exists") as lost:
        store.create("ledger/x.json", b"two")
    assert store.uri("ledger/x.json") in str(lost.value)
    assert store.get("ledger/x.json") == b"one"


def test_create_race_between_threads_has_exactly_one_winner(store):
    results = run_together(THREADS, lambda i: store.create("race/key.json", f"body {i}".encode()))

    winners = [i for i, result in enumerate(results) if isinstance(result, str)]
    losers = [result for result in results if isinstance(result, AlreadyExistsError)]
    assert len(winners) == 1, results
    assert len(losers) == THREADS - 1, results
    assert all("already exists" in str(error) for error in losers)
    assert store.get_versioned("race/key.json") == (
        f"body {winners[0]}".encode(),
        results[winners[0]],
    )


def _create_in_process(uri, endpoint, body, barrier, results) -> None:
    store = open_object_store(uri, endpoint_url=endpoint)
    store.exists("warm-up")  # S3: credentials and connection ready before the start line
    barrier.wait(timeout=120)
    try:
        results.put((body, "won", store.create("race/key.json", body)))
    except AlreadyExistsError as error:
        results.put((body, "lost", str(error)))
    except Exception as error:
        results.put((body, "error", repr(error)))


@pytest.mark.process
def test_create_race_between_processes_has_exactly_one_winner(store_location):
    uri, endpoint = store_location
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    queue = context.Queue()
    processes = [
        context.Process(
            target=_create_in_process,
            args=(uri, endpoint, f"process {i}".encode(), barrier, queue),
        )
        for i in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    try:
        results = [queue.get(timeout=120) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=60)
    assert [process.exitcode for process in processes] == [0] * PROCESSES

    winners = [result for result in results if result[1] == "won"]
    losers = [result for result in results if result[1] == "lost"]
    assert len(winners) == 1, results
    assert len(losers) == PROCESSES - 1, results
    assert all("already exists" in message for _, _, message in losers)
    body, _, etag = winners[0]
    assert open_object_store(uri, endpoint_url=endpoint).get_versioned("race/key.json") == (
        body,
        etag,
    )


# --- replace if unchanged --------------------------------------------------------------------


@pytest.mark.slow
def test_replace_with_a_stale_etag_loses(store):
    first = store.put("state.json", b"v1")
    second = store.replace("state.json", b"v2", etag=first)
    assert second != first
    with pytest.raises(ObjectChangedError, match="changed since it was read") as lost:
        store.replace("state.json", b"v2 from a stale reader", etag=first)
    assert store.uri("state.json") in str(lost.value)
    assert store.get_versioned("state.json") == (b"v2", second)


def test_replace_of_a_missing_key_loses(store):
    with pytest.raises(ObjectChangedError):
        store.replace("never.json", b"x", etag="0-0-0")
    etag = store.put("gone.json", b"here")
    store.delete("gone.json")
    with pytest.raises(ObjectChangedError):
        store.replace("gone.json", b"back", etag=etag)
    assert not store.exists("gone.json")


def test_read_modify_replace_counter_loses_no_update(store):
    key = "counters/runs.txt"
    store.put(key, b"0")

    def increment(_: int) -> int:
        conflicts = 0
        while True:
            data, etag = store.get_versioned(key)
            try:
                store.replace(key, str(int(data) + 1).encode(), "text/plain", etag=etag)
                return conflicts
            except ObjectChangedError:
                conflicts += 1

    results = run_together(THREADS, increment)
    assert all(isinstance(result, int) for result in results), results
    assert store.get(key) == str(THREADS).encode()


# --- lock files (local) -----------------------------------------------------------------------


def test_local_lock_files_stay_few_whatever_the_number_of_keys(tmp_path):
    """A lock file per key was left for good (`.locks/` held 2,020 files after 2,000 SMS); keys
    now share a fixed pool of at most 256 lock files."""
    store = LocalObjectStore(tmp_path)
    for number in range(300):
        key = f"_sms/replies/SM{number:032x}.json"
        store.put(key, b"{}")
        store.delete(key)
    locks = [path for path in (tmp_path / ".locks").rglob("*") if path.is_file()]
    assert 0 < len(locks) <= LOCK_STRIPES == 256  # was 300: one per key
    assert store.list("") == []


def test_local_keys_sharing_a_lock_file_lose_no_update(tmp_path):
    """Two keys guarded by the same lock file, updated by racing threads: every update of each
    lands, and neither waits on the other for long."""
    first = "counters/a.txt"
    second = next(
        key
        for key in (f"counters/{number}.txt" for number in range(100_000))
        if key != first and lock_stripe(key) == lock_stripe(first)
    )
    store = LocalObjectStore(tmp_path)
    assert store.lock_file(first) == store.lock_file(second)
    for key in (first, second):
        store.put(key, b"0")

    def increment(number: int) -> None:
        key = (first, second)[number % 2]
        for _ in range(10):
            while True:
                data, etag = store.get_versioned(key)
                try:
                    store.replace(key, str(int(data) + 1).encode(), etag=etag)
                    break
                except ObjectChangedError:
                    pass

    results = run_together(THREADS, increment)
    assert results == [None] * THREADS
    assert store.get(first) == store.get(second) == str(THREADS // 2 * 10).encode()


@pytest.mark.slow
def test_s3_conditional_write_retried_by_botocore_is_recognised_as_ours(s3_bucket, s3_endpoint):
    """A PUT that succeeded but whose response was lost is retried by botocore and then fails
    its own condition; the store sees its write id on the object and reports the win."""
    store = open_object_store(f"s3://{s3_bucket}/p", endpoint_url=s3_endpoint)
    forced = []

    def retry_first_put_once(attempts, **kwargs):
        if attempts == 1 and not forced:
            forced.append(True)
            return 0  # "retry after 0 s", as if the response had never arrived
        return None

    store.client.meta.events.register("needs-retry.s3.PutObject", retry_first_put_once)
    etag = store.create("once.json", b"created")
    assert forced and store.get_versioned("once.json") == (b"created", etag)
    forced.clear()
    new_etag = store.replace("once.json", b"replaced", etag=etag)
    assert forced and store.get_versioned("once.json") == (b"replaced", new_etag)
    # A real loser is still a loser after a retry.
    forced.clear()
    with pytest.raises(AlreadyExistsError):
        store.create("once.json", b"someone else")
    with pytest.raises(ObjectChangedError):
        store.replace("once.json", b"someone else", etag=etag)


# The reply is stubbed and no server is reached, so one run (on moto) is enough.
@pytest.mark.parametrize("s3_server", ["moto"], indirect=True)
def test_s3_409_conditional_request_conflict_maps_to_the_loser_errors(s3_client, s3_bucket):
    """moto never answers 409 ConditionalRequestConflict, so this one response is stubbed."""
    from botocore.stub import Stubber

    store = S3ObjectStore(s3_bucket, "p", s3_client)
    with Stubber(s3_client) as stub:
        for _ in range(2):
            stub.add_client_error(
                "put_object", service_error_code="ConditionalRequestConflict", http_status_code=409
            )
        with pytest.raises(AlreadyExistsError, match="already exists"):
            store.create("k", b"x")
        with pytest.raises(ObjectChangedError):
            store.replace("k", b"x", etag="abc")


# --- opening a store -------------------------------------------------------------------------


@pytest.mark.parametrize("uri", ["gs://bucket/prefix", "http://example.com/store", "s3://", ""])
def test_open_object_store_rejects_other_schemes(uri):
    with pytest.raises(ValueError) as rejected:
        open_object_store(uri)
    assert str(rejected.value) == (
        f"GLIMPSE_STORAGE_URI must be a local folder or s3://bucket/prefix, got {uri!r}"
    )


def test_open_object_store_parses_s3_uris():
    store = open_object_store("s3://my-bucket/deep/prefix/", region_name="eu-west-1")
    assert isinstance(store, S3ObjectStore)
    assert (store.bucket, store.prefix) == ("my-bucket", "deep/prefix")
    assert store.uri("a/b.txt") == "s3://my-bucket/deep/prefix/a/b.txt"
    assert store.client.meta.region_name == "eu-west-1"


def test_open_object_store_honours_aws_endpoint_url(s3_client, s3_bucket, s3_endpoint):
    store = open_object_store(f"s3://{s3_bucket}")  # AWS_ENDPOINT_URL is set by s3_client
    assert store.client.meta.endpoint_url == s3_endpoint
    store.put("k", b"v")
    assert s3_client.get_object(Bucket=s3_bucket, Key="k")["Body"].read() == b"v"


def test_open_object_store_gives_a_local_store_for_plain_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for uri, root in [
        (str(tmp_path / "abs"), tmp_path / "abs"),
        ("relative/store", tmp_path / "relative" / "store"),
        (".glimpse", tmp_path / ".glimpse"),
    ]:
        store = open_object_store(uri)
        assert isinstance(store, LocalObjectStore)
        assert store.root == root.resolve()


@pytest.mark.slow
def test_s3_errors_name_the_uri_and_the_endpoint(monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # fail at once instead of retrying
    store = open_object_store("s3://some-bucket/glimpse", endpoint_url="http://127.0.0.1:9")
    operations = {
        "put": lambda: store.put("a/b.json", b"{}"),
        "get": lambda: store.get("a/b.json"),
        "exists": lambda: store.exists("a/b.json"),
        "list": lambda: store.list("a"),
        "create": lambda: store.create("a/b.json", b"{}"),
        "replace": lambda: store.replace("a/b.json", b"{}", etag="e"),
        "delete": lambda: store.delete("a/b.json"),
    }
    for name, operation in operations.items():
        with pytest.raises(StorageError) as failed:
            operation()
        message = str(failed.value)
        assert "s3://some-bucket/glimpse/a" in message, name
        assert "http://127.0.0.1:9" in message, name
        assert "\n" not in message and "testing" not in message, name  # no secret key


@pytest.mark.process
def test_module_imports_neither_boto3_nor_botocore():
    check = (
        "import sys, glimpse_assets.storage.object_store; "
        "loaded = [m for m in ('boto3', 'botocore') if m in sys.modules]; "
        "assert not loaded, loaded"
    )
    root = Path(object_store_module.__file__).parents[2]
    subprocess.run([sys.executable, "-c", check], check=True, cwd=root)
