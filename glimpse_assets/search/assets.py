"""The search lineage: article_chunks -> article_embeddings -> search_index (thin assets).

Today is a partition too, so a document posted today is indexed today: a day's chunks are the
day's stored raw_news articles (when the news chain has stored that day) and the documents
ingested that day. raw_news is a dependency, not an input: today's news is made once the day is
over, and a day without news still indexes what was ingested.
"""

from datetime import date
from functools import partial

import dagster as dg
from pydantic import Field

from glimpse_assets.asset_defaults import daily_asset
from glimpse_assets.automation import follows_upstream_day, with_its_chain
from glimpse_assets.providers.embeddings import Embedder
from glimpse_assets.ranges import for_each_day
from glimpse_assets.search.chunking import DEFAULT_OVERLAP
from glimpse_assets.search.resources import VectorIndexResource
from glimpse_assets.storage.resource import ObjectStoreResource

SEARCH_GROUP = "search"
# The same day's raw_news, read from storage by the step when it is there (today's news is
# made the next morning): a day without news still indexes what was ingested.
RAW_NEWS = dg.AssetDep("raw_news")


class ChunkConfig(dg.Config):
    overlap: int = Field(
        default=DEFAULT_OVERLAP, ge=0, le=128, description="Word pieces consecutive chunks share."
    )


@daily_asset(
    domain=SEARCH_GROUP,
    kinds={"pandas", "parquet"},
    deps=[RAW_NEWS],
    # Once a one-day run has stored the day's raw_news, with the rest of the chain in the same
    # run (automation.py); documents posted to the inbox start it through its sensor.
    automation_condition=follows_upstream_day(),
    description="The day's articles and ingested documents, cleaned and cut into chunks of at "
    "most 256 MiniLM word pieces (title first), each with a content-hash id.",
)
def article_chunks(
    context: dg.AssetExecutionContext, config: ChunkConfig, object_store: ObjectStoreResource
):
    from glimpse_assets.search.steps import chunk_day

    return for_each_day(context, partial(chunk_day, context, object_store.store, config.overlap))


@daily_asset(
    domain=SEARCH_GROUP,
    kinds={"openai", "numpy", "parquet"},
    # In the llm pool and budget: with GLIMPSE_EMBEDDINGS=openai it calls the gateway.
    calls_a_model=True,
    automation_condition=with_its_chain(),
    description="One L2-normalised vector per chunk, with the exact text embedded.",
)
def article_embeddings(context: dg.AssetExecutionContext, article_chunks, embedder: Embedder):
    from glimpse_assets.search.steps import embed_day

    return for_each_day(
        context, partial(embed_day, context, embedder), article_chunks=article_chunks
    )


@daily_asset(
    domain=SEARCH_GROUP,
    kinds={"lancedb", "json"},
    automation_condition=with_its_chain(),
    description="The day's chunks upserted by id into the LanceDB vector index under the "
    "storage root; the stored value is what the day's upsert did.",
)
def search_index(
    context: dg.AssetExecutionContext,
    article_chunks,
    article_embeddings,
    vector_index: VectorIndexResource,
    embedder: Embedder,
):
    from glimpse_assets.search.steps import index_day

    def index(day: date, article_chunks, article_embeddings) -> dict:
        return index_day(context, vector_index, embedder, day, article_chunks, article_embeddings)

    return for_each_day(
        context, index, article_chunks=article_chunks, article_embeddings=article_embeddings
    )


search_assets = [article_chunks, article_embeddings, search_index]
