"""`glimpse serve` as a real process when its storage fails under it: S3 stalled (SeaweedFS
stopped with SIGSTOP) gets a 503 within seconds and `/healthz` says so; a full local root (a 1 MB
tmpfs) gets 507 and a read-only one 503, each with its reason instead of a bare 500."""

from __future__ import annotations

import time

import pytest

from glimpse_assets_tests.support.serve_process import serve_process
from glimpse_assets_tests.support.storage_faults import fill, read_only, small_disk, stalled

pytestmark = pytest.mark.process

KEY = "storage-faults-key-8d2c61f0a4"
DOCUMENT = {"title": "Ferry timetable changes", "text": "The ferry leaves every forty minutes."}
HEALTH_BOUND = 5.0  # /healthz waits at most 2 s for its storage probe
REQUEST_BOUND = 20.0  # a request's storage call: at most 2 attempts of 2 s + 3 s


@pytest.fixture(scope="module")
def s3_service(seaweedfs):
    client = seaweedfs.client()
    bucket = f"glimpse-serve-{time.time_ns():x}"
    client.create_bucket(Bucket=bucket)
    env = {"GLIMPSE_STORAGE_URI": f"s3://{bucket}/glimpse", "GLIMPSE_API_KEYS": KEY}
    with serve_process({**env, **seaweedfs.env()}) as service:
        yield service
    assert KEY not in service.output()


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_healthz_reports_a_stalled_s3_within_seconds(s3_service, seaweedfs):
    with s3_service.client(api_key=None) as client:
        up = client.get("/healthz")
        with stalled(seaweedfs):
            down, elapsed = timed(lambda: client.get("/healthz"))
        back = client.get("/healthz")
    assert down.status_code == 503, down.text  # was 200 "ok" with S3 frozen
    assert down.json() | {"version": "-"} == {
        "status": "degraded",
        "version": "-",
        "storage": "s3",
        "storage_status": "unreachable",
        "auth": "api key",
    }
    assert elapsed < HEALTH_BOUND
    assert up.status_code == 200 and up.json()["status"] == "ok"
    assert up.json()["storage_status"] == "ok"
    assert back.status_code == 200 and back.json()["storage_status"] == "ok"


def test_a_write_to_a_stalled_s3_gets_503_within_seconds(s3_service, seaweedfs):
    with s3_service.client() as client:  # its timeout: 30 s
        with stalled(seaweedfs):
            refused, elapsed = timed(lambda: client.post("/documents", json=DOCUMENT))
        again = client.post("/documents", json=DOCUMENT)
    assert refused.status_code == 503, refused.text  # was no answer for minutes
    assert refused.json()["detail"].startswith("storage is unavailable")
    assert elapsed < REQUEST_BOUND
    assert again.status_code == 202  # stored (or already stored by the stalled attempt)


def test_a_full_then_read_only_local_root_says_so(tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        env = {"GLIMPSE_STORAGE_URI": str(disk / "storage"), "GLIMPSE_API_KEYS": KEY}
        with serve_process(env) as service, service.client() as client:
            ballast = fill(disk)
            full = client.post("/documents", json=DOCUMENT)
            full_health = client.get("/healthz")
            ballast.unlink()
            read_only(disk)
            refused = client.post("/documents", json=DOCUMENT)
            refused_health = client.get("/healthz")
        output = service.output()
    assert full.status_code == 507, full.text  # was 500 "internal error"
    assert full.json()["detail"].startswith("storage is full")
    assert refused.status_code == 503, refused.text  # was 500 "internal error"
    assert refused.json()["detail"].startswith("storage is read-only")
    # Reads may still work: the health check says degraded but does not take the service out.
    assert (full_health.status_code, full_health.json()["status"]) == (200, "degraded")
    assert full_health.json()["storage_status"] == "full"
    assert refused_health.json()["storage_status"] == "read-only"
    assert "Traceback" not in output and KEY not in output
