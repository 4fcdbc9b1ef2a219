"""Asset checks for the search lineage."""

import dagster as dg

from glimpse_assets.partitions import daily_partitions
from glimpse_assets.providers.embeddings import Embedder
from glimpse_assets.ranges import check_each_day
from glimpse_assets.search.assets import search_index
from glimpse_assets.search.resources import VectorIndexResource
from glimpse_assets.storage.resource import ObjectStoreResource


@dg.asset_check(asset=search_index, partitions_def=daily_partitions)
def search_index_finds_the_main_story(
    context: dg.AssetCheckExecutionContext,
    object_store: ObjectStoreResource,
    vector_index: VectorIndexResource,
    embedder: Embedder,
) -> dg.AssetCheckResult:
    """The day's main story, searched for by its title, is in the top 3 (a warning if not)."""
    from glimpse_assets.search.steps import main_story_check

    index = vector_index.reader(embedder.index_table)
    return check_each_day(
        context, lambda day: main_story_check(day, object_store.store, embedder, index)
    )


search_checks = [search_index_finds_the_main_story]
