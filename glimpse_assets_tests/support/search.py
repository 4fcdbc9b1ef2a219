"""The search tests' shared helpers: index rows of a day made up (`rows`, `chunk_rows`,
`text_vector`), the search group run for a day (`run_search`) and what it indexed and
recorded."""

from __future__ import annotations

import hashlib

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa

from glimpse_assets.providers.minilm_embedder import MiniLMEmbedder
from glimpse_assets.search.assets import search_assets
from glimpse_assets.search.checks import search_checks
from glimpse_assets.search.index import connect, schema


def rows(day: str, count: int, dimension: int = 384, prefix: str = "c") -> pa.Table:
    vectors = np.random.default_rng(len(day) + count).random((count, dimension), np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return pa.table(
        {
            "id": [f"{prefix}{day}-{n}" for n in range(count)],
            "document_id": [f"doc{day}-{n // 2}" for n in range(count)],
            "source": ["test"] * count,
            "title": ["t"] * count,
            "url": [None] * count,
            "published": pa.array([None] * count, type=pa.timestamp("us", tz="UTC")),
            "published_day": [day] * count,
            "day": [day] * count,
            "position": pa.array([n % 2 for n in range(count)], type=pa.int32()),
            "tokens": pa.array([10] * count, type=pa.int32()),
            "text": ["x"] * count,
            "vector": pa.FixedSizeListArray.from_arrays(
                pa.array(vectors.reshape(-1), type=pa.float32()), dimension
            ),
        },
        schema=schema(dimension),
    )


def text_vector(text: str, dimension: int = 384) -> np.ndarray:
    """A unit vector of the text alone: the same text, the same vector (and score)."""
    seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
    vector = np.random.default_rng(seed).standard_normal(dimension).astype(np.float32)
    return vector / np.linalg.norm(vector)


def chunk_rows(
    day: str, documents: list[tuple[str, str | None, list[str]]], dimension: int = 384
) -> pa.Table:
    """A day's rows for `(document id, url, chunk texts)`: each chunk's id is a hash of its
    document and text (as the chain's), its vector `text_vector(text)`."""
    chunks = [(doc, url, text) for doc, url, texts in documents for text in texts]
    vectors = np.zeros((len(chunks), dimension), np.float32)
    for n, (_, _, text) in enumerate(chunks):
        vectors[n] = text_vector(text, dimension)
    count = len(chunks)
    return pa.table(
        {
            "id": [
                hashlib.sha256(f"{d}\0{text}".encode()).hexdigest()[:32] for d, _, text in chunks
            ],
            "document_id": [doc for doc, _, _ in chunks],
            "source": ["test"] * count,
            "title": ["t"] * count,
            "url": [url for _, url, _ in chunks],
            "published": pa.array([None] * count, type=pa.timestamp("us", tz="UTC")),
            "published_day": [day] * count,
            "day": [day] * count,
            "position": pa.array([0] * count, type=pa.int32()),
            "tokens": pa.array([10] * count, type=pa.int32()),
            "text": [text for _, _, text in chunks],
            "vector": pa.FixedSizeListArray.from_arrays(
                pa.array(vectors.reshape(-1), type=pa.float32()), dimension
            ),
        },
        schema=schema(dimension),
    )


def run_search(
    resources: dict, day: str, instance: dg.DagsterInstance | None = None
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*search_assets, *search_checks],
        partition_key=day,
        resources=resources,
        instance=instance,
        selection=dg.AssetSelection.groups("search"),
    )


def index_table(storage_uri: str) -> pd.DataFrame:
    table = connect(storage_uri).open_table(MiniLMEmbedder().index_table)
    return table.to_pandas()


def materialisation_metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key.path == [asset]]
    return {k: v.value for k, v in event.materialization.metadata.items()}
