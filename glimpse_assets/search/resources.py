"""The search domain's resource: `vector_index`, the LanceDB index under the storage root."""

import dagster as dg
from pydantic import Field

from glimpse_assets.search.index import IndexLocation
from glimpse_assets.search.reader import SearchIndex, open_search_index
from glimpse_assets.search.settings import SearchSettings
from glimpse_assets.settings import setting
from glimpse_assets.storage.resource import ObjectStoreResource


class VectorIndexResource(dg.ConfigurableResource):
    """Where the index lives (the storage root, as the object store) and when it gets an ANN
    index. lancedb is imported when a step uses it."""

    storage_uri: str = Field(description="The storage root: a folder or s3://bucket/prefix.")
    endpoint_url: str | None = Field(default=None, description="As the object store's.")
    region_name: str | None = Field(default=None, description="As the object store's.")
    ann_min_rows: int = setting(SearchSettings, "ann_min_rows")

    @property
    def location(self) -> IndexLocation:
        return IndexLocation(self.storage_uri, self.endpoint_url, self.region_name)

    def reader(self, table: str) -> SearchIndex:
        return open_search_index(self.location, table)


def search_resources(object_store: ObjectStoreResource, settings: SearchSettings) -> dict:
    """The index under the object store's root, reached with the same endpoint and region."""
    return {
        "vector_index": VectorIndexResource(
            storage_uri=object_store.storage_uri,
            endpoint_url=object_store.endpoint_url,
            region_name=object_store.region_name,
            ann_min_rows=settings.ann_min_rows,
        )
    }
