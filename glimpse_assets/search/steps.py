"""One day of each search asset: chunk the day's documents, embed the chunks, index them."""

from __future__ import annotations

import time
from datetime import date
from typing import TYPE_CHECKING, Any

import dagster as dg

from glimpse_assets.providers.minilm import word_piece_tokenizer
from glimpse_assets.ranges import add_day_metadata
from glimpse_assets.search.chunking import Chunk, chunk_documents
from glimpse_assets.search.documents import ingested_documents, news_document_id, news_documents
from glimpse_assets.search.inbox import read_day_documents
from glimpse_assets.search.index import schema, upsert_day
from glimpse_assets.skipped_checks import NothingToCheck
from glimpse_assets.storage import formats
from glimpse_assets.storage.object_store import ObjectNotFoundError, ObjectStore

if TYPE_CHECKING:
    import pandas as pd

    from glimpse_assets.providers.embeddings import Embedder
    from glimpse_assets.search.reader import SearchIndex
    from glimpse_assets.search.resources import VectorIndexResource

CHUNK_COLUMNS = [
    "id",
    "document_id",
    "source",
    "title",
    "url",
    "published",
    "position",
    "tokens",
    "text",
]
RAW_NEWS_KEY = "raw_news/{day}.parquet"
MAIN_STORY_TOP = 3


def stored_raw_news(store: ObjectStore, day: date | str) -> pd.DataFrame | None:
    """The day's stored raw_news, or None when the news chain has not stored that day."""
    try:
        data = store.get(RAW_NEWS_KEY.format(day=str(day)))
    except ObjectNotFoundError:
        return None
    return formats.decode(data, formats.PARQUET)


def chunks_frame(chunks: list[Chunk]) -> pd.DataFrame:
    import pandas as pd

    # Column by column: a row dict per chunk (dataclasses.asdict deep-copies each) cost more
    # than the table itself on a day of thousands of articles.
    columns = {name: [getattr(chunk, name) for chunk in chunks] for name in CHUNK_COLUMNS}
    frame = pd.DataFrame(columns, columns=CHUNK_COLUMNS)
    frame["published"] = pd.to_datetime(frame["published"], utc=True)
    for column in ("id", "document_id", "source", "title", "url", "text"):
        frame[column] = frame[column].astype("string")
    frame["position"] = frame["position"].astype("int32")
    frame["tokens"] = frame["tokens"].astype("int32")
    return frame


def chunk_day(
    context: dg.AssetExecutionContext, store: ObjectStore, overlap: int, day: date
) -> pd.DataFrame:
    raw_news = stored_raw_news(store, day)
    articles = news_documents(raw_news) if raw_news is not None else []
    records, skipped = read_day_documents(store, day)
    for problem in skipped:
        context.log.warning(f"inbox object left out: {problem}")
    ingested = ingested_documents(records)
    chunks = chunk_documents(articles + ingested, word_piece_tokenizer(), overlap=overlap)
    frame = chunks_frame(chunks)
    tokens = frame["tokens"]
    add_day_metadata(
        context,
        {
            "articles": len(articles),
            "ingested_documents": len(ingested),
            "inbox_objects_skipped": dg.MetadataValue.json(skipped),
            "raw_news": "stored" if raw_news is not None else "not stored for the day",
            "chunks": len(frame),
            "max_tokens_per_chunk": int(tokens.max()) if len(frame) else 0,
            "mean_tokens_per_chunk": round(float(tokens.mean()), 1) if len(frame) else 0.0,
            "overlap_tokens": overlap,
        },
    )
    return frame


def embeddings_frame(chunks: pd.DataFrame, vectors: Any) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(
        {
            "id": chunks["id"].astype("string"),
            "text": chunks["text"].astype("string"),
            "vector": list(vectors),
        }
    )


def embed_day(
    context: dg.AssetExecutionContext,
    embedder: Embedder,
    day: date,
    article_chunks: pd.DataFrame,
) -> pd.DataFrame:
    import numpy as np

    texts = article_chunks["text"].tolist()
    started = time.perf_counter()
    if texts:
        result = embedder.embed(context, texts)
        vectors = result.vectors
        details = {
            "provider": result.provider,
            "model": result.model,
            "model_revision": result.revision,
            "method": result.method,
            **result.metadata,
        }
    else:
        vectors = np.zeros((0, embedder.dimension), dtype=np.float32)
        details = {"provider": "none", "method": "no chunks: nothing embedded"}
    seconds = time.perf_counter() - started
    add_day_metadata(
        context,
        {
            "vectors": len(texts),
            "dimension": embedder.dimension,
            "index_table": embedder.index_table,
            "embed_seconds": round(seconds, 3),
            **details,
        },
    )
    return embeddings_frame(article_chunks, vectors)


def index_rows(day: str, chunks: pd.DataFrame, embeddings: pd.DataFrame, dimension: int):
    """The day's rows in the index's schema: chunk columns, the day, and each chunk's vector."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    if not chunks["id"].equals(embeddings["id"]):
        raise ValueError(
            f"article_embeddings for {day} do not match article_chunks: re-materialise "
            "article_embeddings for the day"
        )
    published = pd.to_datetime(chunks["published"], utc=True)
    published_day = published.dt.strftime("%Y-%m-%d").fillna(day)
    vectors = (
        np.asarray(np.stack(embeddings["vector"].to_numpy()), dtype=np.float32)
        if len(embeddings)
        else np.zeros((0, dimension), dtype=np.float32)
    )
    if vectors.shape[1] != dimension:
        raise ValueError(f"vectors for {day} have {vectors.shape[1]} dimensions, not {dimension}")
    table_schema = schema(dimension)
    columns = {
        "id": chunks["id"].astype(str).tolist(),
        "document_id": chunks["document_id"].astype(str).tolist(),
        "source": chunks["source"].astype(str).tolist(),
        "title": chunks["title"].astype(str).tolist(),
        "url": [None if pd.isna(url) else str(url) for url in chunks["url"]],
        "published": pa.array(published, type=pa.timestamp("us", tz="UTC")),
        "published_day": published_day.tolist(),
        "day": [day] * len(chunks),
        "position": chunks["position"].astype("int32").tolist(),
        "tokens": chunks["tokens"].astype("int32").tolist(),
        "text": chunks["text"].astype(str).tolist(),
        "vector": pa.FixedSizeListArray.from_arrays(
            pa.array(vectors.reshape(-1), type=pa.float32()), dimension
        ),
    }
    return pa.table(columns, schema=table_schema)


def index_day(
    context: dg.AssetExecutionContext,
    vector_index: VectorIndexResource,
    embedder: Embedder,
    day: date,
    article_chunks: pd.DataFrame,
    article_embeddings: pd.DataFrame,
) -> dict:
    rows = index_rows(day.isoformat(), article_chunks, article_embeddings, embedder.dimension)
    result = upsert_day(
        vector_index.location,
        embedder.index_table,
        rows,
        day.isoformat(),
        ann_min_rows=vector_index.ann_min_rows,
    )
    summary = {
        "day": day.isoformat(),
        "table": embedder.index_table,
        "index_uri": vector_index.location.uri,
        "chunks": rows.num_rows,
        "documents": len(set(rows.column("document_id").to_pylist())),
        **result.metadata(),
    }
    add_day_metadata(
        context,
        {
            **result.metadata(),
            "index_table": embedder.index_table,
            "index_uri": dg.MetadataValue.path(vector_index.location.uri),
        },
    )
    return summary


def main_story_check(
    day: str, store: ObjectStore, embedder: Embedder, index: SearchIndex
) -> dg.AssetCheckResult | NothingToCheck:
    """The day's main story, searched for by its title, is among the top hits; nothing to check
    on a day without news."""
    from glimpse_assets.news.digest import EmptyNewsDayError, main_story_id
    from glimpse_assets.text import clean_text, is_missing

    raw_news = stored_raw_news(store, day)
    try:
        main_id = main_story_id(raw_news) if raw_news is not None else None
    except EmptyNewsDayError:
        main_id = None
    if main_id is None:
        return NothingToCheck(f"no news stored for {day}: no main story to look for")
    row = raw_news[raw_news["id"] == main_id].iloc[0]
    title = clean_text(row["title"]) or clean_text(row["description"])
    wanted = news_document_id(str(row["source"]), str(main_id))
    url = None if is_missing(row["url"]) else str(row["url"])
    hits = index.search(embedder.embed_query(title), MAIN_STORY_TOP) or []
    # By url too: an article another day reuses under another id is one result, either id.
    ranks = [
        rank
        for rank, hit in enumerate(hits, 1)
        if hit["document_id"] == wanted or (url and hit["url"] == url)
    ]
    found = bool(ranks)
    return dg.AssetCheckResult(
        passed=found,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"the main story is hit {ranks[0]} for its title"
            if found
            else f"the main story is not in the top {MAIN_STORY_TOP} for its own title"
        ),
        metadata={
            "main_story_title": title,
            "rank": ranks[0] if found else dg.MetadataValue.null(),
            "top_scores": ", ".join(f"{hit['score']:.3f}" for hit in hits),
        },
    )
