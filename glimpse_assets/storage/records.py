"""JSON records on the object store: the LLM cache, the publishing ledger, the outbox records.

A record is one JSON object at `<prefix>/<name>.json`, readable by anyone. `create` and `replace`
are the object store's conditional writes, so a claim (`create`) has exactly one winner and an
update made from a stale read (`replace` with an old etag) is refused rather than lost.
"""

from __future__ import annotations

import json
from typing import Any

from glimpse_assets.storage.object_store import ObjectNotFoundError, ObjectStore

JSON_CONTENT_TYPE = "application/json"


def encode_record(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")


class JsonRecords:
    def __init__(self, store: ObjectStore, prefix: str) -> None:
        self.store = store
        self.prefix = prefix.strip("/")

    def key(self, name: str) -> str:
        """The object key of record `name` (a '/'-separated path such as `outbox/2026-03-01`)."""
        return f"{self.prefix}/{name}.json"

    def uri(self, name: str) -> str:
        return self.store.uri(self.key(name))

    def get(self, name: str) -> dict[str, Any] | None:
        try:
            return json.loads(self.store.get(self.key(name)))
        except ObjectNotFoundError:
            return None

    def get_versioned(self, name: str) -> tuple[dict[str, Any], str] | None:
        """The record and its etag (for `replace`), or None when there is none."""
        try:
            data, etag = self.store.get_versioned(self.key(name))
        except ObjectNotFoundError:
            return None
        return json.loads(data), etag

    def put(self, name: str, record: dict[str, Any]) -> str:
        return self.store.put(self.key(name), encode_record(record), JSON_CONTENT_TYPE)

    def create(self, name: str, record: dict[str, Any]) -> str:
        """Write the record only if there is none yet; `AlreadyExistsError` otherwise."""
        return self.store.create(self.key(name), encode_record(record), JSON_CONTENT_TYPE)

    def replace(self, name: str, record: dict[str, Any], etag: str) -> str:
        """Write the record only if it is unchanged since it was read with `etag`;
        `ObjectChangedError` otherwise."""
        return self.store.replace(
            self.key(name), encode_record(record), JSON_CONTENT_TYPE, etag=etag
        )

    def names(self, under: str = "") -> list[str]:
        """The names of the records under `prefix/under`, sorted."""
        folder = f"{self.prefix}/{under.strip('/')}" if under.strip("/") else self.prefix
        start = len(self.prefix) + 1
        return [
            key[start : -len(".json")] for key in self.store.list(folder) if key.endswith(".json")
        ]
