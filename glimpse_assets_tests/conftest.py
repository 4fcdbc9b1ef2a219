"""Shared fixtures: the S3 servers on 127.0.0.1 and the offline resources.

S3 tests run against two servers, each started once per session on 127.0.0.1: moto's server
mode (`moto`, any credentials accepted) and a real SeaweedFS (`seaweedfs`, its one identity
enforced; glimpse_assets_tests/support/seaweedfs.py). `s3_server` is parametrised over both, so
every test that asks for `s3_server`, `s3_endpoint`, `s3_client` or `s3_bucket` runs once on each
(ids `[moto]`, `[seaweedfs]`). A fixture parametrised over local and S3 storage takes the
servers' names as params and calls `s3_bucket_on(name)`.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from glimpse_assets_tests.support.s3 import S3Server, new_bucket, point_aws_at
from glimpse_assets_tests.support.seaweedfs import SeaweedFS

S3_SERVERS = ("moto", "seaweedfs")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test on SeaweedFS (a fixture named for it, or a parameter `seaweedfs`: the `[seaweedfs]`
    half of a test parametrised over the S3 servers) starts a real server: marked `process`."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params.values() if callspec is not None else ()
        on_seaweedfs = any(isinstance(value, str) and value == "seaweedfs" for value in params)
        if on_seaweedfs or any("seaweedfs" in name for name in item.fixturenames):
            item.add_marker(pytest.mark.process)


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch):
    """Tests never use a developer's AWS credentials or reach a real endpoint."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture(scope="session")
def moto_server():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory):
    """A SeaweedFS S3 server on 127.0.0.1 for the session; only its own credentials work."""
    folder = tmp_path_factory.mktemp("seaweedfs")
    with SeaweedFS(folder, "glimpse-tests", secrets.token_hex(16)) as server:
        yield server


def s3_server_named(request: pytest.FixtureRequest, name: str) -> S3Server:
    if name == "moto":
        return S3Server("moto", request.getfixturevalue("moto_server"), "testing", "testing")
    if name == "seaweedfs":
        server = request.getfixturevalue("seaweedfs")
        return S3Server("seaweedfs", server.endpoint_url, server.access_key, server.secret_key)
    raise ValueError(f"no S3 server named {name!r}; there are {S3_SERVERS}")


@pytest.fixture(scope="session", params=S3_SERVERS)
def s3_server(request) -> S3Server:
    """Each S3 server in turn (moto, then SeaweedFS)."""
    return s3_server_named(request, request.param)


@pytest.fixture
def s3_endpoint(s3_server) -> str:
    return s3_server.endpoint_url


@pytest.fixture
def s3_client(s3_server, monkeypatch):
    """AWS_ENDPOINT_URL and the credentials pointed at the S3 server, and a client for it."""
    return point_aws_at(s3_server, monkeypatch)


@pytest.fixture
def s3_bucket(s3_client):
    """A fresh, empty bucket on the S3 server, for one test."""
    return new_bucket(s3_client)


@pytest.fixture
def s3_bucket_on(request, monkeypatch):
    """`s3_bucket_on("moto" | "seaweedfs")` -> (a fresh bucket, its S3Server), with AWS_* pointed
    at that server: for fixtures parametrised over local storage and the S3 servers."""

    def make(name: str) -> tuple[str, S3Server]:
        server = s3_server_named(request, name)
        return new_bucket(point_aws_at(server, monkeypatch)), server

    return make


@pytest.fixture
def local_io_manager(tmp_path):
    from glimpse_assets_tests.support.stores import io_manager_at

    return io_manager_at(str(tmp_path / "storage"))


@pytest.fixture
def local_store(local_io_manager):
    """The object store resource under `local_io_manager` (the same instance)."""
    return local_io_manager.object_store


@pytest.fixture
def offline_resources(local_io_manager):
    from glimpse_assets.news.sources import SampleNewsSource
    from glimpse_assets.providers.offline_image import OfflineImageProvider
    from glimpse_assets.providers.offline_text import OfflineTextProvider

    return {
        "io_manager": local_io_manager,
        "object_store": local_io_manager.object_store,
        "news_source": SampleNewsSource(),
        "text_provider": OfflineTextProvider(),
        "image_provider": OfflineImageProvider(),
    }


@pytest.fixture
def fake():
    """An OpenAI-compatible server on 127.0.0.1 (glimpse_assets_tests.support.fake_openai)."""
    from glimpse_assets_tests.support.fake_openai import FakeOpenAI

    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def storage_root(local_store) -> Path:
    """The folder under `local_store`, to read what was stored without Dagster."""
    return Path(local_store.storage_uri)
