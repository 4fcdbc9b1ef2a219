"""Byte storage under one root URI: a local folder or `s3://bucket/prefix`.

Both stores make a write all-or-nothing: the local store writes a temporary file beside the
target and renames it into place; S3 makes a PUT visible only once it is complete. So a crash
half-way never leaves a half-written object under its final name.
"""

from __future__ import annotations

import os
import uuid
from abc import ABC, abstractmethod
from pathlib import Path
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError


class StorageError(RuntimeError):
    """A storage operation failed; the message names the URI and the cause."""


class ObjectStore(ABC):
    """Keys are '/'-separated relative paths such as `news/raw_news/2026-11-20.parquet`."""

    @abstractmethod
    def uri(self, key: str) -> str: ...

    @abstractmethod
    def write_bytes(self, key: str, data: bytes, content_type: str) -> None: ...

    @abstractmethod
    def read_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list_keys(self, prefix: str) -> list[str]:
        """Every key under `prefix` (a folder-like path without a trailing slash), sorted."""


class LocalObjectStore(ObjectStore):
    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    def uri(self, key: str) -> str:
        return str(self._path(key))

    def write_bytes(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp_name = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
        # Mode 0o666 less the umask, as for any new file (mkstemp would make it owner-only).
        fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def read_bytes(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError as error:
            raise StorageError(f"no stored object at {path}") from error

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list_keys(self, prefix: str) -> list[str]:
        folder = self._path(prefix)
        if not folder.is_dir():
            return []
        return sorted(
            path.relative_to(self.root).as_posix()
            for path in folder.rglob("*")
            if path.is_file() and not path.name.startswith(".")
        )


class S3ObjectStore(ObjectStore):
    """S3 or any S3-compatible server; the endpoint comes from the boto3 client it is given."""

    def __init__(self, bucket: str, prefix: str, client):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def _fail(self, action: str, key: str, error: Exception) -> StorageError:
        endpoint = getattr(self.client.meta, "endpoint_url", "?")
        return StorageError(f"S3 {action} of {self.uri(key)} (endpoint {endpoint}) failed: {error}")

    def write_bytes(self, key: str, data: bytes, content_type: str) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type
            )
        except (BotoCoreError, ClientError) as error:
            raise self._fail("write", key, error) from error

    def read_bytes(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except (BotoCoreError, ClientError) as error:
            raise self._fail("read", key, error) from error

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise self._fail("lookup", key, error) from error
        except BotoCoreError as error:
            raise self._fail("lookup", key, error) from error

    def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        base = self._key(prefix).rstrip("/") + "/"
        strip = len(self.prefix) + 1 if self.prefix else 0
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base
            )
            for page in pages:
                keys += [item["Key"][strip:] for item in page.get("Contents", [])]
        except (BotoCoreError, ClientError) as error:
            raise self._fail("listing", prefix, error) from error
        return sorted(keys)

    def presigned_url(self, key: str, seconds: int = 3600) -> str:
        """A URL that lets anyone GET the object for `seconds`, e.g. a publisher's image fetch."""
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=seconds
        )


def parse_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"not an s3://bucket/prefix URI: {uri!r}")
    return parsed.netloc, parsed.path.strip("/")


def is_s3_uri(uri: str) -> bool:
    return uri.startswith("s3://")
