"""The project's one object store: a local folder or `s3://bucket/prefix`, with conditional writes.

Every write is all-or-nothing: the local store writes a complete temporary file beside the target
and renames (or hard-links) it into place; S3 makes a PUT visible only once it is complete. So a
reader never sees half an object, and a crash half-way leaves the old object (or none).

Two conditional writes let concurrent writers (threads, processes, machines) coordinate:

- `create(key, data)` writes only if the key is absent, else raises `AlreadyExistsError`;
- `replace(key, data, etag=...)` writes only if the object is still the one read with that etag
  (`get_versioned`), else raises `ObjectChangedError`. Read-modify-replace in a retry loop gives
  updates that are never lost.

Locally, create is `os.link` of the finished temp file (atomic, fails if the name exists) and
replace compares the etag and renames while holding an exclusive `flock` on the key's lock file:
one of a fixed pool of `LOCK_STRIPES` files in a hidden folder (`<root>/.locks/stripe-XX.lock`,
chosen by a hash of the key; never listed). A lock file is never removed: a process may have
opened it and be waiting for the lock, and one that deletes it lets the next writer lock a new
file of the same name, so two writers would hold "the" lock at once. A fixed pool keeps them
few instead (one file per key grew without bound); two keys that share a file only wait for each
other's rename. On S3 they are `PutObject` with `If-None-Match: *` and `If-Match: <etag>`.

Failures are `StorageError`s; those a caller may answer differently are subclasses:
`StorageUnavailableError` (no answer in time, unreachable, or the server's own failure: try
later), `StorageFullError` (no space left) and `StorageReadOnlyError` (writes refused).

S3 clients are made in one place, `s3_client`, from dagster-aws's `S3Resource`: its session
settings (endpoint, region, profile, keys, SSL) for every store, index lease and service read.
How long an S3 call may take is bounded per use: `open_object_store(..., limits=...)`, or every
store opened inside `with request_limits():` (what `glimpse serve` does) gets `REQUEST_LIMITS`,
seconds rather than the defaults Dagster's runs keep (S3Resource's own client: 60 s timeouts,
standard retries with its `max_attempts`). S3Resource's client carries no timeouts, so a bounded
client is made from the same settings with dagster-aws's retry config merged with the limits.

boto3, botocore and dagster-aws are imported only where S3 is used: they take ~0.4 s to import
and the code location must load fast.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

DEFAULT_CONTENT_TYPE = "application/octet-stream"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_WRITE_ID = "glimpse-write-id"  # S3 user metadata naming the write, to recognise our own retries
# What an S3 refusal of the credentials means, said before botocore's own words (a HEAD's 403
# carries no error body: botocore says only "(403) ... Forbidden").
_REFUSED = "access denied: wrong credentials, or they lack permission on this bucket"
_CREDENTIALS_REFUSED = {
    "InvalidAccessKeyId": "credentials refused: the server knows no such access key "
    "(AWS_ACCESS_KEY_ID)",
    "SignatureDoesNotMatch": "credentials refused: the secret key does not match the access key "
    "(AWS_SECRET_ACCESS_KEY)",
    "AccessDenied": _REFUSED,
    "403": _REFUSED,
}


class StorageError(RuntimeError):
    """A storage operation failed; the message names the URI and the cause."""


class ObjectNotFoundError(StorageError):
    """`get` or `get_versioned` of a key that holds no object."""


class AlreadyExistsError(StorageError):
    """`create` lost: an object already exists under the key."""


class ObjectChangedError(StorageError):
    """`replace` lost: the object changed (or vanished) since it was read with the given etag."""


class StorageUnavailableError(StorageError):
    """No answer in time, no connection, or the server's own failure (5xx): try again later."""


class StorageFullError(StorageError):
    """A write found no space left (ENOSPC, EDQUOT; S3's 507)."""


class StorageReadOnlyError(StorageError):
    """A write was refused: the filesystem is read-only, or the process may not write there."""


# What a local write's OSError means; any other errno is a plain StorageError.
_LOCAL_FAULTS: dict[int, type[StorageError]] = {
    errno.ENOSPC: StorageFullError,
    errno.EDQUOT: StorageFullError,
    errno.EROFS: StorageReadOnlyError,
    errno.EACCES: StorageReadOnlyError,
    errno.EPERM: StorageReadOnlyError,
    errno.EIO: StorageUnavailableError,
    errno.ESTALE: StorageUnavailableError,
    errno.ETIMEDOUT: StorageUnavailableError,
    errno.ENOTCONN: StorageUnavailableError,
    errno.EHOSTDOWN: StorageUnavailableError,
}
_S3_UNAVAILABLE_CODES = {"SlowDown", "ServiceUnavailable", "RequestTimeout", "InternalError"}


@dataclass(frozen=True)
class S3Limits:
    """How long one S3 call may take, for botocore: the connect and read timeouts in seconds (the
    read timeout is per socket read: a stalled server is given up on, a long download is not)
    and the attempts in all, the first included (standard retry mode)."""

    connect_seconds: float
    read_seconds: float
    attempts: int

    @property
    def longest_seconds(self) -> float:
        """A call's worst case: every attempt waits out both timeouts, and (a PUT) 1 s for S3's
        `100 Continue` before it sends the body; botocore's backoff adds under 0.1 s."""
        return self.attempts * (self.connect_seconds + 1 + self.read_seconds)

    def config(self) -> Any:
        from botocore.config import Config

        return Config(
            connect_timeout=self.connect_seconds,
            read_timeout=self.read_seconds,
            retries={"mode": "standard", "total_max_attempts": self.attempts},
        )


# A request's storage call. Measured with SeaweedFS stopped (SIGSTOP): a GET gives up after 6 s,
# a PUT after 8 s (each attempt first waits 1 s for `100 Continue`); 12 s at worst, if connecting
# stalls too; boto3's defaults took 180 s. A shorter deadline (an SMS reply) needs its own wait.
REQUEST_LIMITS = S3Limits(connect_seconds=2, read_seconds=3, attempts=2)
# `/healthz`'s look at the storage: one try, 2 s at most.
PROBE_LIMITS = S3Limits(connect_seconds=1, read_seconds=1, attempts=1)

_limits: ContextVar[S3Limits | None] = ContextVar("glimpse_s3_limits", default=None)


@contextlib.contextmanager
def request_limits(limits: S3Limits = REQUEST_LIMITS) -> Iterator[S3Limits]:
    """Every object store opened inside (and `ObjectStoreResource` made inside) bounds its S3
    calls by `limits`. The service builds its routes inside it; Dagster's runs are outside and
    keep S3Resource's client (no such bounds), so a slow store makes a step slow, not failed."""
    token = _limits.set(limits)
    try:
        yield limits
    finally:
        _limits.reset(token)


def current_limits() -> S3Limits | None:
    """The limits of the enclosing `request_limits()`, or None (S3Resource's own client)."""
    return _limits.get()


def _one_line(error: BaseException | str) -> str:
    return " ".join(str(error).split())


def _check_key(key: str, *, allow_empty: bool = False) -> str:
    """Keys are relative '/'-separated paths; no empty, '.', '..' or hidden ('.x') parts, which
    would escape the root or collide with the local store's temp and lock files."""
    if not isinstance(key, str):
        raise TypeError(f"object key must be a str, got {type(key).__name__}")
    if key == "" and allow_empty:
        return key
    if not key or any(not part or part.startswith(".") for part in key.split("/")):
        raise ValueError(f"invalid object key {key!r}: use a relative path like 'folder/name.ext'")
    return key


class ObjectStore(ABC):
    """Keys are '/'-separated relative paths such as `news/raw_news/2026-11-20.parquet`.

    Etags are opaque strings that change whenever the object is written.
    """

    @abstractmethod
    def uri(self, key: str) -> str:
        """Where the object lives: a local path or an `s3://` URI."""

    @abstractmethod
    def put(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> str:
        """Write the object atomically (unconditionally); return its new etag."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The object's bytes; `ObjectNotFoundError` if there is none."""

    @abstractmethod
    def get_versioned(self, key: str) -> tuple[bytes, str]:
        """The object's bytes and the etag of exactly those bytes; `ObjectNotFoundError`."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Every key under `prefix` (a folder-like path without a trailing slash, or "" for the
        whole store), sorted and relative to the store root."""

    @abstractmethod
    def create(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> str:
        """Write only if the key is absent and return the etag, else `AlreadyExistsError`."""

    @abstractmethod
    def replace(
        self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE, *, etag: str
    ) -> str:
        """Write only if the current etag is `etag` and return the new one, else
        `ObjectChangedError` (also when the object no longer exists)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; no error if it is absent."""

    @abstractmethod
    def check(self) -> None:
        """Raise the `StorageError` a call would meet now, if any, cheaply: S3 one HEAD of the
        bucket; locally a look at the root's filesystem (read-only, full)."""


LOCKS_FOLDER = ".locks"
LOCK_STRIPES = 256


def lock_stripe(key: str) -> int:
    """Which of the `LOCK_STRIPES` lock files guards `key`: the same in every process."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=4).digest()
    return int.from_bytes(digest, "big") % LOCK_STRIPES


class LocalObjectStore(ObjectStore):
    """Objects are plain files under `root`; temp files (`.name...tmp`) and the lock tree
    (`.locks/`) are hidden, and never listed."""

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"LocalObjectStore({str(self.root)!r})"

    def _path(self, key: str, *, allow_empty: bool = False) -> Path:
        return self.root.joinpath(*_check_key(key, allow_empty=allow_empty).split("/"))

    def uri(self, key: str) -> str:
        return str(self._path(key))

    @staticmethod
    def _etag(stat: os.stat_result) -> str:
        # Cheap (no hashing of 30 MB objects). Every write is a new file, hence a new inode;
        # inodes are reused at once, so the mtime is set explicitly to a ns clock reading (see
        # _write_temp) to keep an old etag from coming back on kernels with coarse timestamps.
        return f"{stat.st_ino:x}-{stat.st_mtime_ns:x}-{stat.st_size:x}"

    def _write_temp(self, path: Path, data: bytes) -> tuple[Path, str]:
        """A complete, fsynced temp file beside `path`, and the etag it will have there."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
        # Mode 0o666 less the umask, as for any new file (mkstemp would make it owner-only).
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                now = time.time_ns()
                os.utime(file.fileno(), ns=(now, now))
                os.fsync(file.fileno())
                etag = self._etag(os.fstat(file.fileno()))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp, etag

    @staticmethod
    def _sync_dir(folder: Path) -> None:
        with contextlib.suppress(OSError):  # best effort: not every filesystem allows it
            fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def lock_file(self, key: str) -> Path:
        """The key's lock file, one of a fixed pool in a hidden folder of their own (see the
        module doc), so the objects' folders hold nothing but objects."""
        stripe = lock_stripe(_check_key(key))
        return self.root / LOCKS_FOLDER / f"stripe-{stripe:02x}.lock"

    @contextlib.contextmanager
    def _locked(self, path: Path) -> Iterator[None]:
        """Exclusive across threads and processes: each call opens its own lock file description.
        Never nested (one key at a time), so keys sharing a lock file cannot deadlock."""
        lock = self.lock_file(path.relative_to(self.root).as_posix())
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _fail(self, action: str, path: Path, error: BaseException) -> StorageError:
        kind = _LOCAL_FAULTS.get(getattr(error, "errno", None) or 0, StorageError)
        if kind is StorageReadOnlyError and action == "read":
            kind = StorageError  # no permission to read is not a read-only store
        return kind(f"local {action} of {path} failed: {_one_line(error)}")

    def put(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> str:
        path = self._path(key)
        try:
            tmp, etag = self._write_temp(path, data)
            try:
                # Locked so that a concurrent replace() cannot compare, then overwrite this write.
                with self._locked(path):
                    os.replace(tmp, path)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        except OSError as error:
            raise self._fail("write", path, error) from error
        self._sync_dir(path.parent)
        return etag

    def get(self, key: str) -> bytes:
        return self.get_versioned(key)[0]

    def get_versioned(self, key: str) -> tuple[bytes, str]:
        path = self._path(key)
        try:
            # Objects are never modified in place, so the open file's stat describes its bytes.
            with open(path, "rb") as file:
                etag = self._etag(os.fstat(file.fileno()))
                return file.read(), etag
        except FileNotFoundError as error:
            raise ObjectNotFoundError(f"no stored object at {path}") from error
        except OSError as error:
            raise self._fail("read", path, error) from error

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        folder = self._path(prefix, allow_empty=True)
        keys = []
        for parent, dirs, files in os.walk(folder):
            dirs[:] = [name for name in dirs if not name.startswith(".")]
            base = Path(parent).relative_to(self.root)
            keys += [(base / name).as_posix() for name in files if not name.startswith(".")]
        return sorted(keys)

    def create(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> str:
        path = self._path(key)
        try:
            tmp, etag = self._write_temp(path, data)
            try:
                os.link(tmp, path)  # atomic, and fails if the name exists
            except FileExistsError as error:
                raise AlreadyExistsError(f"cannot create {path}: it already exists") from error
            finally:
                tmp.unlink(missing_ok=True)
        except OSError as error:
            raise self._fail("create", path, error) from error
        self._sync_dir(path.parent)
        return etag

    def replace(
        self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE, *, etag: str
    ) -> str:
        path = self._path(key)
        try:
            tmp, new_etag = self._write_temp(path, data)
            try:
                with self._locked(path):
                    try:
                        current = self._etag(os.stat(path))
                    except FileNotFoundError:
                        current = None
                    if current != etag:
                        state = "no longer exists" if current is None else "changed"
                        raise ObjectChangedError(
                            f"cannot replace {path}: it {state} since it was read (etag {etag})"
                        )
                    os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
        except OSError as error:
            raise self._fail("replace", path, error) from error
        self._sync_dir(path.parent)
        return new_etag

    def delete(self, key: str) -> None:
        path = self._path(key)
        if not os.path.lexists(path):
            return  # nothing to delete, and no lock file or folders made for nothing
        try:
            with self._locked(path):
                path.unlink(missing_ok=True)
        except OSError as error:
            raise self._fail("delete", path, error) from error

    def check(self) -> None:
        folder = self.root
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent  # the root itself is made by the first write
        try:
            if not folder.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
            stats = os.statvfs(folder)
            if stats.f_flag & os.ST_RDONLY:
                raise OSError(errno.EROFS, os.strerror(errno.EROFS))
            if not os.access(folder, os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
            if stats.f_bavail == 0 or stats.f_favail == 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as error:
            raise self._fail("check", folder, error) from error


class S3ObjectStore(ObjectStore):
    """S3 or any S3-compatible server; the endpoint comes from the client it is given
    (`s3_client`)."""

    def __init__(self, bucket: str, prefix: str, client: Any):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client

    def __repr__(self) -> str:
        return f"S3ObjectStore({self.uri('')!r}, endpoint={self._endpoint()!r})"

    def _key(self, key: str, *, allow_empty: bool = False) -> str:
        key = _check_key(key, allow_empty=allow_empty)
        return "/".join(part for part in (self.prefix, key) if part)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key, allow_empty=True)}"

    def _endpoint(self) -> str:
        return str(getattr(self.client.meta, "endpoint_url", "?"))

    def _fail(self, action: str, key: str, error: BaseException) -> StorageError:
        refused = _CREDENTIALS_REFUSED.get(self._code(error)[0])
        cause = f"{refused}; {_one_line(error)}" if refused else _one_line(error)
        return self._fault(error)(
            f"S3 {action} of {self.uri(key)} (endpoint {self._endpoint()}) failed: {cause}"
        )

    @classmethod
    def _fault(cls, error: BaseException) -> type[StorageError]:
        from botocore.exceptions import ConnectionError, HTTPClientError

        if isinstance(error, ConnectionError | HTTPClientError):  # timeouts, resets, refused
            return StorageUnavailableError
        code, status = cls._code(error)
        if status == 507 or code == "XMinioStorageFull":
            return StorageFullError
        if (status or 0) >= 500 or code in _S3_UNAVAILABLE_CODES:
            return StorageUnavailableError
        return StorageError

    @staticmethod
    def _code(error: Any) -> tuple[str, int | None]:
        response = getattr(error, "response", None) or {}
        code = str(response.get("Error", {}).get("Code", ""))
        return code, response.get("ResponseMetadata", {}).get("HTTPStatusCode")

    def _put(
        self, key: str, data: bytes, content_type: str, write_id: str = "", **condition: str
    ) -> str:
        response = self.client.put_object(
            Bucket=self.bucket,
            Key=self._key(key),
            Body=data,
            ContentType=content_type,
            Metadata={_WRITE_ID: write_id or uuid.uuid4().hex},
            **condition,
        )
        return response["ETag"].strip('"')

    def _own_write(self, key: str, write_id: str, error: Any) -> str | None:
        """After a lost conditional PUT that botocore retried: the etag if the first attempt
        actually succeeded (the object carries our write id), else None."""
        if not error.response.get("ResponseMetadata", {}).get("RetryAttempts"):
            return None
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except Exception:
            return None
        if head.get("Metadata", {}).get(_WRITE_ID) != write_id:
            return None
        return head["ETag"].strip('"')

    def put(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._put(key, data, content_type)
        except (BotoCoreError, ClientError) as error:
            raise self._fail("write", key, error) from error

    def get(self, key: str) -> bytes:
        return self.get_versioned(key)[0]

    def get_versioned(self, key: str) -> tuple[bytes, str]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            # One GET: the body and the ETag in its headers are the same version.
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            return response["Body"].read(), response["ETag"].strip('"')
        except ClientError as error:
            if self._code(error)[0] in {"NoSuchKey", "404", "NotFound"}:
                raise ObjectNotFoundError(f"no stored object at {self.uri(key)}") from error
            raise self._fail("read", key, error) from error
        except BotoCoreError as error:
            raise self._fail("read", key, error) from error

    def exists(self, key: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as error:
            if self._code(error)[0] in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise self._fail("lookup", key, error) from error
        except BotoCoreError as error:
            raise self._fail("lookup", key, error) from error

    def list(self, prefix: str) -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        base = self._key(prefix, allow_empty=True)
        base = f"{base}/" if base else ""
        strip = len(self.prefix) + 1 if self.prefix else 0
        keys: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base
            )
            for page in pages:
                keys += [
                    item["Key"][strip:]
                    for item in page.get("Contents", [])
                    if not item["Key"].endswith("/")  # folder markers made by consoles
                ]
        except (BotoCoreError, ClientError) as error:
            raise self._fail("listing", prefix, error) from error
        return sorted(keys)

    def create(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        write_id = uuid.uuid4().hex
        try:
            return self._put(key, data, content_type, IfNoneMatch="*", write_id=write_id)
        except ClientError as error:
            code, status = self._code(error)
            if code == "PreconditionFailed" or status == 412:
                if (etag := self._own_write(key, write_id, error)) is not None:
                    return etag
                raise AlreadyExistsError(
                    f"cannot create {self.uri(key)}: it already exists"
                ) from error
            if code == "ConditionalRequestConflict" or status == 409:
                raise AlreadyExistsError(
                    f"cannot create {self.uri(key)}: it already exists or is being written "
                    f"concurrently (409 ConditionalRequestConflict)"
                ) from error
            raise self._fail("create", key, error) from error
        except BotoCoreError as error:
            raise self._fail("create", key, error) from error

    def replace(
        self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE, *, etag: str
    ) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        write_id = uuid.uuid4().hex
        try:
            return self._put(key, data, content_type, IfMatch=f'"{etag}"', write_id=write_id)
        except ClientError as error:
            code, status = self._code(error)
            if code in {"PreconditionFailed", "ConditionalRequestConflict"} or status in {
                409,
                412,
            }:
                if (new_etag := self._own_write(key, write_id, error)) is not None:
                    return new_etag
                raise ObjectChangedError(
                    f"cannot replace {self.uri(key)}: it changed since it was read (etag {etag})"
                ) from error
            if code in {"NoSuchKey", "404", "NotFound"} or status == 404:
                raise ObjectChangedError(
                    f"cannot replace {self.uri(key)}: it no longer exists (etag {etag})"
                ) from error
            raise self._fail("replace", key, error) from error
        except BotoCoreError as error:
            raise self._fail("replace", key, error) from error

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if self._code(error)[0] not in {"NoSuchKey", "404", "NotFound"}:
                raise self._fail("delete", key, error) from error
        except BotoCoreError as error:
            raise self._fail("delete", key, error) from error

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as error:
            raise self._fail("check", "", error) from error

    def presigned_url(self, key: str, seconds: int = 3600) -> str:
        """A URL that lets anyone GET the object for `seconds`, e.g. a publisher's image fetch."""
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=seconds
        )


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix/` -> ("bucket", "some/prefix")."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"not an s3://bucket/prefix URI: {uri!r}")
    return parsed.netloc, parsed.path.strip("/")


def is_s3_uri(uri: str) -> bool:
    return uri.startswith("s3://")


def s3_settings(endpoint_url: str | None = None, region_name: str | None = None) -> Any:
    """dagster-aws's `S3Resource` for the object store's endpoint and region; its other session
    settings keep their defaults (the standard AWS chain's credentials, SSL verified)."""
    from dagster_aws.s3 import S3Resource

    return S3Resource(endpoint_url=endpoint_url, region_name=region_name)


def s3_client(settings: Any, limits: S3Limits | None = None) -> Any:
    """The one place an S3 client is made, from an `S3Resource`'s session settings.

    Without `limits`: S3Resource's own client (`get_client()`: a session of its own, standard
    retries with its `max_attempts`, botocore's 60 s timeouts). With `limits`: the same settings,
    with dagster-aws's retry config merged with the limits' timeouts and attempts, because
    S3Resource cannot carry a botocore Config. `endpoint_url=None` leaves the endpoint to boto3,
    which honours AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL.
    """
    if limits is None:
        return settings.get_client()
    import boto3
    from dagster_aws.utils import construct_boto_client_retry_config

    # A session of its own: boto3's default session is not safe to share between threads.
    client = boto3.session.Session(profile_name=settings.profile_name).client(
        "s3",
        region_name=settings.region_name,
        endpoint_url=settings.endpoint_url,
        use_ssl=settings.use_ssl,
        verify=settings.verify,
        aws_access_key_id=settings.aws_access_key_id,
        aws_secret_access_key=settings.aws_secret_access_key,
        aws_session_token=settings.aws_session_token,
        config=construct_boto_client_retry_config(settings.max_attempts).merge(limits.config()),
    )
    if settings.use_unsigned_session:
        from botocore.handlers import disable_signing

        client.meta.events.register("choose-signer.s3.*", disable_signing)
    return client


def open_object_store(
    uri: str,
    endpoint_url: str | None = None,
    region_name: str | None = None,
    limits: S3Limits | None = None,
    settings: Any = None,
) -> ObjectStore:
    """The store at `uri`: a local folder path, or `s3://bucket/prefix`.

    For S3 the client comes from `s3_client`, with `settings` (an `S3Resource`) or else one for
    `endpoint_url` and `region_name` (`s3_settings`); credentials come from the standard chain
    unless the settings name them. `limits` defaults to `current_limits()`: inside
    `request_limits()` those, else S3Resource's own client.
    """
    invalid = f"GLIMPSE_STORAGE_URI must be a local folder or s3://bucket/prefix, got {uri!r}"
    if not isinstance(uri, str) or not uri.strip():
        raise ValueError(invalid)
    if is_s3_uri(uri):
        try:
            bucket, prefix = parse_s3_uri(uri)
        except ValueError:
            raise ValueError(invalid) from None
        settings = settings or s3_settings(endpoint_url, region_name)
        return S3ObjectStore(bucket, prefix, s3_client(settings, limits or current_limits()))
    if _SCHEME.match(uri):
        raise ValueError(invalid)
    return LocalObjectStore(uri)
