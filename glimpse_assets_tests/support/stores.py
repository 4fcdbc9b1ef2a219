"""Storage as the code location builds it, for tests that choose their own storage root."""

from glimpse_assets.storage.io_manager import GlimpseIOManager
from glimpse_assets.storage.resource import ObjectStoreResource


def io_manager_at(storage_uri: str) -> GlimpseIOManager:
    """The IO manager over an object store at `storage_uri` (a folder or s3://bucket/prefix);
    its `object_store` is the resource to pass as `object_store` beside it."""
    return GlimpseIOManager(object_store=ObjectStoreResource(storage_uri=storage_uri))


def search_resources_at(storage_uri: str) -> dict:
    """What the search chain (and raw_news from the sample source) runs with, at `storage_uri`:
    the offline MiniLM embedder and the index under the same root."""
    from glimpse_assets.news.sources import SampleNewsSource
    from glimpse_assets.providers.minilm_embedder import MiniLMEmbedder
    from glimpse_assets.search.resources import VectorIndexResource

    io_manager = io_manager_at(storage_uri)
    return {
        "io_manager": io_manager,
        "object_store": io_manager.object_store,
        "news_source": SampleNewsSource(),
        "embedder": MiniLMEmbedder(),
        "vector_index": VectorIndexResource(storage_uri=storage_uri),
    }


def search_definitions(resources: dict):
    """The search domain alone with `resources`: its assets, check and search_job."""
    import dagster as dg

    from glimpse_assets.domains import upstream_specs
    from glimpse_assets.search.assets import search_assets
    from glimpse_assets.search.checks import search_checks
    from glimpse_assets.search.sensors import search_job

    return dg.Definitions(
        assets=[*search_assets, *upstream_specs(dg.Definitions(assets=search_assets))],
        asset_checks=search_checks,
        jobs=[search_job],
        resources=resources,
    )
