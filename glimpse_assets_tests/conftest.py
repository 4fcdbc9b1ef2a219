"""Shared fixtures: an S3 server on 127.0.0.1 (moto's server mode) and the offline resources."""

from __future__ import annotations

import uuid
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer


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


@pytest.fixture
def s3_client(moto_server, monkeypatch):
    """AWS_ENDPOINT_URL pointed at the local moto server, and a client for it."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return boto3.client("s3", endpoint_url=moto_server)


@pytest.fixture
def s3_bucket(s3_client):
    """A fresh, empty bucket on the local S3 server, for one test."""
    name = f"glimpse-test-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def local_io_manager(tmp_path):
    from glimpse_assets_tests.stores import io_manager_at

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
    """An OpenAI-compatible server on 127.0.0.1 (glimpse_assets_tests.fake_openai)."""
    from glimpse_assets_tests.fake_openai import FakeOpenAI

    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def storage_root(local_store) -> Path:
    """The folder under `local_store`, to read what was stored without Dagster."""
    return Path(local_store.storage_uri)
