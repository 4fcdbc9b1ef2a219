"""The vector index: an embedded LanceDB table under the storage root (a folder or s3://).

One database at `<storage root>/search_index`, one table per vector space (the embedder's
`index_table`), so vectors of two models never meet. `search_index` upserts a day's chunks by id
in one commit (LanceDB's merge-insert): unchanged chunks stay, new ones are added, and the rows
of that day or of its documents that are no longer among the day's chunks (a changed or dropped
article's old windows) are deleted in the same commit. Readers (the service, the checks) open the
table read-only and see new versions without a restart.

Up to `ann_min_rows` rows a query scans every vector (exact, and fast at that size); from there
an IVF_HNSW_SQ index is built and kept up to date as days are added (see the README).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from glimpse_assets.storage.object_store import is_s3_uri

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

INDEX_FOLDER = "_vector_index"  # beside _cache, _ledger: a store of its own, not an asset's objects
VECTOR_COLUMN = "vector"
VECTOR_INDEX_NAME = "vector_idx"
DEFAULT_ANN_MIN_ROWS = 50_000
# Rows added since the ANN index was built, as a share of those in it, before it is updated.
ANN_REFRESH_SHARE = 0.1
# Every daily upsert adds a fragment (and a version); past this many they are compacted.
COMPACT_FRAGMENTS = 32
OLD_VERSIONS_KEPT = timedelta(days=7)  # readers on an older version than this lose it
# How stale a reader may be: a new day is visible to the service within this long.
READ_CONSISTENCY = timedelta(seconds=2)
RESULT_COLUMNS = ["id", "document_id", "title", "url", "published", "text", "source"]


class VectorIndexError(RuntimeError):
    """The index cannot be used as asked; the message says why."""


@dataclass(frozen=True)
class IndexLocation:
    """The storage root the index lives under, and the S3 endpoint and region the object store
    uses there (by default the standard AWS environment's)."""

    storage_uri: str
    endpoint_url: str | None = None
    region_name: str | None = None

    @property
    def uri(self) -> str:
        return f"{self.storage_uri.rstrip('/')}/{INDEX_FOLDER}"

    def storage_options(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """LanceDB's S3 options; credentials come from the standard AWS environment."""
        if not is_s3_uri(self.storage_uri):
            return {}
        env = os.environ if env is None else env
        options: dict[str, str] = {}
        endpoint = (
            self.endpoint_url or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
        )
        if endpoint:
            options["aws_endpoint"] = endpoint
            if endpoint.startswith("http://"):
                options["allow_http"] = "true"
        region = self.region_name or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if region:
            options["aws_region"] = region
        return options


def as_location(where: IndexLocation | str) -> IndexLocation:
    return where if isinstance(where, IndexLocation) else IndexLocation(where)


def connect(where: IndexLocation | str, read_consistency: timedelta | None = None):
    import lancedb

    location = as_location(where)
    return lancedb.connect(
        location.uri,
        storage_options=location.storage_options(),
        read_consistency_interval=read_consistency,
    )


def schema(dimension: int) -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("document_id", pa.string(), nullable=False),
            pa.field("source", pa.string(), nullable=False),
            pa.field("title", pa.string(), nullable=False),
            pa.field("url", pa.string()),
            pa.field("published", pa.timestamp("us", tz="UTC")),
            # The published date, or the day the document was indexed for: what since/until
            # filter on.
            pa.field("published_day", pa.string(), nullable=False),
            pa.field("day", pa.string(), nullable=False),
            pa.field("position", pa.int32(), nullable=False),
            pa.field("tokens", pa.int32(), nullable=False),
            pa.field("text", pa.string(), nullable=False),
            pa.field(VECTOR_COLUMN, pa.list_(pa.float32(), dimension), nullable=False),
        ]
    )


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _table_names(db) -> list[str]:
    listed = db.list_tables()
    return list(getattr(listed, "tables", listed))


@dataclass(frozen=True)
class UpsertResult:
    rows: int  # in the whole table after the commit
    rows_added: int
    rows_updated: int
    rows_deleted: int
    version: int
    vector_index: str  # "exact (no ANN index)" or what was built or updated
    compaction: str  # whether the table's fragments were compacted after the commit

    def metadata(self) -> dict[str, Any]:
        return {
            "rows_in_index": self.rows,
            "rows_added": self.rows_added,
            "rows_updated": self.rows_updated,
            "rows_deleted": self.rows_deleted,
            "index_version": self.version,
            "vector_index": self.vector_index,
            "compaction": self.compaction,
        }


def upsert_day(
    where: IndexLocation | str,
    table_name: str,
    rows: pa.Table,
    day: str,
    ann_min_rows: int = DEFAULT_ANN_MIN_ROWS,
    max_fragments: int = COMPACT_FRAGMENTS,
) -> UpsertResult:
    """Make the table's rows for `day` and for the day's documents exactly `rows`."""
    dimension = rows.schema.field(VECTOR_COLUMN).type.list_size
    db = connect(where)
    if table_name in _table_names(db):
        table = db.open_table(table_name)
    else:  # two first writers at once: exist_ok lets the second open the first one's table
        table = db.create_table(table_name, schema=schema(dimension), exist_ok=True)
    existing = table.schema.field(VECTOR_COLUMN).type.list_size
    if existing != dimension:
        raise VectorIndexError(
            f"table {table_name} holds {existing}-dimensional vectors, these are {dimension}"
        )
    documents = sorted(set(rows.column("document_id").to_pylist()))
    stale = f"day = {_quoted(day)}"
    if documents:
        stale += f" OR document_id IN ({', '.join(_quoted(d) for d in documents)})"
    if rows.num_rows:
        result = (
            table.merge_insert("id")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .when_not_matched_by_source_delete(stale)
            .execute(rows)
        )
        added, updated, deleted = (
            result.num_inserted_rows,
            result.num_updated_rows,
            result.num_deleted_rows,
        )
    else:
        added = updated = 0
        deleted = table.delete(stale).num_deleted_rows
    vector_index = maintain_vector_index(table, ann_min_rows)
    compaction = compact_if_fragmented(table, max_fragments)
    return UpsertResult(
        rows=table.count_rows(),
        rows_added=added,
        rows_updated=updated,
        rows_deleted=deleted,
        version=table.version,
        vector_index=vector_index,
        compaction=compaction,
    )


def maintain_vector_index(table, ann_min_rows: int) -> str:
    """Build the ANN index once the table reaches `ann_min_rows`; fold new rows into it when
    they exceed a tenth of those indexed. Below the threshold every query is exact."""
    from lancedb.index import HnswSq

    stats = table.index_stats(VECTOR_INDEX_NAME)
    if stats is None:
        rows = table.count_rows()
        if rows < ann_min_rows:
            return f"exact (no ANN index below {ann_min_rows} rows)"
        table.create_index(
            VECTOR_COLUMN, config=HnswSq(distance_type="cosine"), name=VECTOR_INDEX_NAME
        )
        # since/until prefilter on published_day: without an index that is a scan of every row.
        table.create_scalar_index("published_day", index_type="BTREE", replace=True)
        return f"IVF_HNSW_SQ built over {rows} rows (and a BTREE on published_day)"
    if stats.num_unindexed_rows > ANN_REFRESH_SHARE * max(stats.num_indexed_rows, 1):
        table.optimize()
        return f"IVF_HNSW_SQ updated with {stats.num_unindexed_rows} new rows"
    return f"IVF_HNSW_SQ over {stats.num_indexed_rows} rows, {stats.num_unindexed_rows} not yet"


def fragment_count(table) -> int:
    stats = table.stats()  # a dict in lancedb 0.40, a dataclass in its type hints
    fragments = stats["fragment_stats"] if isinstance(stats, dict) else stats.fragment_stats
    return fragments["num_fragments"] if isinstance(fragments, dict) else fragments.num_fragments


def compact_if_fragmented(table, max_fragments: int = COMPACT_FRAGMENTS) -> str:
    """Merge small fragments and drop versions older than a week once there are more than
    `max_fragments`. The day's rows are committed before this: if a concurrent writer's commit
    conflicts with the compaction, the compaction waits for a later day and nothing is lost."""
    fragments = fragment_count(table)
    if fragments <= max_fragments:
        return f"not needed ({fragments} fragments)"
    try:
        table.optimize(cleanup_older_than=OLD_VERSIONS_KEPT)
    except Exception as error:  # lance raises its own commit-conflict errors
        first_line = " ".join(str(error).split()).split(", /")[0][:200]
        return f"deferred: a concurrent commit won ({first_line})"
    after = fragment_count(table)
    return f"compacted {fragments} fragments into {after}"


def day_filter(since: date | None, until: date | None) -> str | None:
    parts = []
    if since is not None:
        parts.append(f"published_day >= {_quoted(since.isoformat())}")
    if until is not None:
        parts.append(f"published_day <= {_quoted(until.isoformat())}")
    return " AND ".join(parts) or None


class SearchIndex:
    """A read-only handle on one table, opened when first needed and shared across threads."""

    def __init__(self, where: IndexLocation | str, table_name: str) -> None:
        self.location = as_location(where)
        self.table_name = table_name
        self._table = None
        self._lock = threading.Lock()

    def _open(self):
        with self._lock:
            if self._table is None:
                db = connect(self.location, READ_CONSISTENCY)
                if self.table_name not in _table_names(db):
                    return None  # nothing indexed yet: asked again next time
                self._table = db.open_table(self.table_name)
            return self._table

    def count_rows(self) -> int:
        table = self._open()
        return 0 if table is None else table.count_rows()

    def search(
        self,
        vector: np.ndarray,
        k: int,
        since: date | None = None,
        until: date | None = None,
    ) -> list[dict[str, Any]]:
        """The `k` nearest chunks by cosine similarity (`score`, 1 is identical), best first."""
        table = self._open()
        if table is None:
            return []
        query = table.search(vector, vector_column_name=VECTOR_COLUMN).distance_type("cosine")
        where = day_filter(since, until)
        if where:
            query = query.where(where, prefilter=True)
        hits = query.select(RESULT_COLUMNS).limit(k).to_list()
        return [
            {
                "id": hit["id"],
                "document_id": hit["document_id"],
                "title": hit["title"],
                "url": hit["url"],
                "published": hit["published"].isoformat() if hit["published"] else None,
                "score": round(1.0 - float(hit["_distance"]), 6),
                "text": hit["text"],
                "source": hit["source"],
            }
            for hit in hits
        ]


def open_search_index(where: IndexLocation | str, table: str) -> SearchIndex:
    return SearchIndex(where, table)
