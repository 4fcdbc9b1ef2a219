"""A range whose storage fails half-way: every day is either its old object with its old
materialisation, or its new object with its new materialisation (issue 11, item 7).

The S3 faults are real: boto3 talks to a small HTTP proxy on 127.0.0.1 in front of the S3
server (moto or SeaweedFS), which forwards every request until it has let N object PUTs through
and then refuses every request (503) or disappears (drops the connection and stops listening).
The local fault is a day's object made immutable (`chattr +i`), so replacing it fails as a full
or read-only disk would.
"""

import http.client
import json
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import dagster as dg
import pytest

from glimpse_assets.partitions import BACKFILL_POLICY, daily_partitions
from glimpse_assets.ranges import for_each_day
from glimpse_assets_tests.stores import io_manager_at

DAYS = ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"]
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection"}


class FaultyS3Proxy:
    """Forwards HTTP requests to `upstream` until `allow_puts` object PUTs have gone through;
    after that it `refuse`s every request (503 SlowDown) or `vanish`es (drops the connection and
    closes its listening socket, so new connections are refused)."""

    def __init__(self, upstream: str, allow_puts: int | None = None, then: str = "refuse"):
        assert then in {"refuse", "vanish"}
        parsed = urlparse(upstream)
        self.upstream = (parsed.hostname, parsed.port)
        self.allow_puts = allow_puts
        self.then = then
        self.puts = 0
        self.failing = False
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "FaultyS3Proxy":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _counts_as_put(self, method: str, path: str) -> bool:
        """PutObject (path-style `/bucket/key`), not CreateBucket (`/bucket`)."""
        return method == "PUT" and "/" in path.split("?")[0].strip("/")

    def _admit(self, method: str, path: str) -> bool:
        with self.lock:
            if self.failing:
                return False
            if self._counts_as_put(method, path) and self.allow_puts is not None:
                if self.puts >= self.allow_puts:
                    self.failing = True
                    if self.then == "vanish":
                        threading.Thread(target=self.stop, daemon=True).start()
                    return False
                self.puts += 1
            return True

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0], 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _forward(self) -> None:
                body = self._body()
                if not proxy._admit(self.command, self.path):
                    if proxy.then == "vanish":
                        self.close_connection = True  # no reply: the server is gone
                        return
                    error = b"<Error><Code>SlowDown</Code><Message>refused</Message></Error>"
                    self.send_response(503)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(error)))
                    self.end_headers()
                    self.wfile.write(error)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                headers["Content-Length"] = str(len(body))
                upstream = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    payload = response.read()
                    self.send_response(response.status, response.reason)
                    for name, value in response.getheaders():
                        if name.lower() not in HOP_BY_HOP | {"content-length"}:
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                finally:
                    upstream.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

        return Handler


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


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    return "\n".join(
        str(event.event_specific_data.error) for event in result.get_step_failure_events()
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
