"""One writer at a time on a vector-index table, across threads, processes and machines.

Two LanceDB merge-inserts of the same ids that start from the same table version each insert
them (neither sees the other's rows), and two first writers race to create the table; deciding
which version of a document is newest also needs a table nobody else is changing. So
`upsert_day` holds the table's lease while it writes: a claim object created with the object
store's conditional `create` (one winner), renewed by a thread while held (`replace` on its
etag), deleted at the end. A claim whose lease ran out (its writer crashed) or that cannot be
read is taken over with `replace` on the etag read, so only one of several takers wins.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator

from glimpse_assets.storage.object_store import (
    AlreadyExistsError,
    ObjectChangedError,
    ObjectNotFoundError,
    ObjectStore,
)

LOCK_PREFIX = "_locks/vector_index"
LEASE_SECONDS = 60.0  # a crashed writer holds the table this long at most
RENEWALS_PER_LEASE = 4  # a live writer renews its lease this often within it
POLL_SECONDS = 0.2
WAIT_SECONDS = 30 * 60.0  # a writer waits this long for the others before it gives up


class TableBusyError(RuntimeError):
    """Another writer held the table for longer than this one would wait."""


def lock_key(table_name: str) -> str:
    return f"{LOCK_PREFIX}/{table_name}.json"


def _claim(owner: str, lease_seconds: float) -> bytes:
    record = {"owner": owner, "claimed_at": time.time(), "lease_seconds": lease_seconds}
    return json.dumps(record).encode()


def _expired(data: bytes, now: float) -> bool:
    """Whether a claim no longer holds: its lease ran out, or it is not a claim at all."""
    try:
        record = json.loads(data)
        return now > float(record["claimed_at"]) + float(record["lease_seconds"])
    except (ValueError, TypeError, KeyError):
        return True


def _acquire(store: ObjectStore, key: str, owner: str, wait: float, lease: float) -> str:
    """The etag of this writer's claim, once it holds the lease."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return store.create(key, _claim(owner, lease), content_type="application/json")
        except AlreadyExistsError:
            pass
        try:
            data, etag = store.get_versioned(key)
        except ObjectNotFoundError:
            continue  # released meanwhile: try to create it again
        if _expired(data, time.time()):
            with contextlib.suppress(ObjectChangedError):
                return store.replace(key, _claim(owner, lease), "application/json", etag=etag)
        if time.monotonic() > deadline:
            raise TableBusyError(f"{key} has been held by another writer for {wait:.0f} s")
        time.sleep(POLL_SECONDS)


class _Renewal(threading.Thread):
    """Renews the claim until stopped; stops by itself if another writer took it over."""

    def __init__(self, store: ObjectStore, key: str, owner: str, etag: str, lease: float):
        super().__init__(name="vector-index-lease", daemon=True)
        self.store, self.key, self.owner, self.etag, self.lease = store, key, owner, etag, lease
        self.stopped = threading.Event()
        self.lost = False

    def run(self) -> None:
        while not self.stopped.wait(self.lease / RENEWALS_PER_LEASE):
            try:
                self.etag = self.store.replace(
                    self.key, _claim(self.owner, self.lease), "application/json", etag=self.etag
                )
            except ObjectChangedError:
                self.lost = True  # what this writer committed is healed by the next run
                return
            except Exception:  # the storage hiccuped: try again at the next renewal
                continue


@contextlib.contextmanager
def table_lease(
    store: ObjectStore,
    table_name: str,
    wait_seconds: float = WAIT_SECONDS,
    lease_seconds: float = LEASE_SECONDS,
) -> Iterator[None]:
    """Hold `table_name`'s lease for the block (see the module docstring)."""
    key = lock_key(table_name)
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    etag = _acquire(store, key, owner, wait_seconds, lease_seconds)
    renewal = _Renewal(store, key, owner, etag, lease_seconds)
    renewal.start()
    try:
        yield
    finally:
        renewal.stopped.set()
        renewal.join()
        if not renewal.lost:
            with contextlib.suppress(ObjectNotFoundError):
                _, etag = store.get_versioned(key)
                if etag == renewal.etag:  # still ours: nobody took it over meanwhile
                    store.delete(key)
