"""The S3 servers the tests run against (conftest.py starts them: moto's server mode and a real
SeaweedFS), and pointing a test's AWS_* variables and clients at one of them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import boto3
import pytest


@dataclass(frozen=True)
class S3Server:
    """One of the S3 servers the tests run against, and the credentials it accepts."""

    name: str
    endpoint_url: str
    access_key: str
    secret_key: str

    def env(self) -> dict[str, str]:
        """AWS_* variables pointing a client (or a child process) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self):
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
        )


def point_aws_at(server: S3Server, monkeypatch: pytest.MonkeyPatch):
    """AWS_* set to `server`'s endpoint and credentials for this test; a client for it."""
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    # boto3's default session keeps the credentials it first resolved; a `boto3.client(...)`
    # made in this test must read them from this environment, as a new process would.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    return server.client()


def new_bucket(client) -> str:
    name = f"glimpse-test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return name
