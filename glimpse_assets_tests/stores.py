"""Storage as the code location builds it, for tests that choose their own storage root."""

from glimpse_assets.storage.io_manager import GlimpseIOManager
from glimpse_assets.storage.resource import ObjectStoreResource


def io_manager_at(storage_uri: str) -> GlimpseIOManager:
    """The IO manager over an object store at `storage_uri` (a folder or s3://bucket/prefix);
    its `object_store` is the resource to pass as `object_store` beside it."""
    return GlimpseIOManager(object_store=ObjectStoreResource(storage_uri=storage_uri))
