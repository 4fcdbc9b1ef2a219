"""Asset checks for the search lineage."""

import dagster as dg

from glimpse_assets.asset_defaults import daily_asset_check
from glimpse_assets.providers.embeddings import Embedder
from glimpse_assets.ranges import check_each_day
from glimpse_assets.search.assets import search_index
from glimpse_assets.search.resources import VectorIndexResource
from glimpse_assets.skipped_checks import NothingToCheck
from glimpse_assets.storage.resource import ObjectStoreResource


@daily_asset_check(asset=search_index)
def search_index_finds_the_main_story(
    context: dg.AssetCheckExecutionContext,
    object_store: ObjectStoreResource,
    vector_index: VectorIndexResource,
    embedder: Embedder,
) -> dg.AssetCheckResult | NothingToCheck:
    """The day's main story, searched for by its title, is in the top 3 (a warning if not);
    skipped on a day without news."""
    from glimpse_assets.search.steps import main_story_check

    index = vector_index.reader(embedder.index_table)
    return check_each_day(
        context, lambda day: main_story_check(day, object_store.store, embedder, index)
    )


@daily_asset_check(asset=search_index)
def search_index_quality(
    context: dg.AssetCheckExecutionContext,
    object_store: ObjectStoreResource,
    vector_index: VectorIndexResource,
    embedder: Embedder,
) -> dg.AssetCheckResult | NothingToCheck:
    """Retrieval quality, measured daily: the day's labelled queries (two per sample article,
    glimpse_assets/data/search_queries.json) searched as the service searches (the top 5 hits
    of the day), scored by recall@5 (wanted >= 0.9) and MRR (wanted >= 0.85), with the queries
    that missed. A warning below either; skipped for a day of other news than the sample's."""
    from glimpse_assets.search.quality import retrieval_check

    index = vector_index.reader(embedder.index_table)
    return check_each_day(
        context, lambda day: retrieval_check(day, object_store.store, embedder, index)
    )


search_checks = [search_index_finds_the_main_story]
# Quality measured daily (glimpse_assets/quality): registered beside search_checks.
search_quality_checks = [search_index_quality]
