"""`object_store`: the one resource under everything that persists.

The IO manager, the LLM cache, the publishing ledger and outbox, and every later index or token
store take this resource (the same instance, defined once in `glimpse_assets.resources`), so the
storage root and the S3 client are configured in one place.

On S3 the client comes from dagster-aws's `S3Resource` with this resource's endpoint and region
(`object_store.s3_client`, the one place S3 clients are made), so dagster-aws and boto3 load when
the store is first used, never when the code location loads. A resource made inside
`request_limits()` (as `glimpse serve` makes its own) keeps those limits for its store, opened
later or not; one made elsewhere (Dagster's runs) keeps S3Resource's own client.
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field, PrivateAttr

from glimpse_assets.settings import StorageSettings, setting
from glimpse_assets.storage.object_store import (
    ObjectStore,
    S3Limits,
    current_limits,
    open_object_store,
)
from glimpse_assets.storage.records import JsonRecords


class ObjectStoreResource(dg.ConfigurableResource):
    """A local folder or `s3://bucket/prefix`; S3-compatible servers through AWS_ENDPOINT_URL."""

    storage_uri: str = setting(StorageSettings, "storage_uri")
    endpoint_url: str | None = Field(
        default=None,
        description="An S3-compatible endpoint, S3Resource's endpoint_url; by default boto3's "
        "own (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL).",
    )
    region_name: str | None = Field(
        default=None, description="S3Resource's region_name; by default the AWS chain's."
    )

    _store: ObjectStore | None = PrivateAttr(default=None)
    _limits: S3Limits | None = PrivateAttr(default_factory=current_limits)

    @property
    def store(self) -> ObjectStore:
        """The object store, opened on first use (dagster-aws and boto3 load only for s3://
        storage)."""
        if self._store is None:
            self._store = open_object_store(
                self.storage_uri, self.endpoint_url, self.region_name, self._limits
            )
        return self._store

    def records(self, prefix: str) -> JsonRecords:
        """The JSON records kept under `prefix` (e.g. `_ledger`, `_cache`)."""
        return JsonRecords(self.store, prefix)
