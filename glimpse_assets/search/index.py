"""The vector index: an embedded LanceDB table under the storage root (a folder or s3://).

One database at `<storage root>/_vector_index`, one table per vector space (the embedder's
`index_table`), so vectors of two models never meet. `search_index` upserts a day's chunks by id
in one commit (LanceDB's merge-insert): unchanged chunks stay, new ones are added, and the rows
of that day or of its documents that are no longer among the day's chunks (a changed or dropped
article's old windows) are deleted in the same commit.

A document's newest version wins: the rows of a document that a later day indexed (a url posted
again, changed) are left alone when an earlier day is run again, and that day's older version is
not indexed. One writer at a time holds the table (`writer_lock`), so two runs of a day at once
cannot store a chunk twice; a run first removes any chunk id it finds twice (left by a writer
that lost its lease, or by code before the lease), keeping one.

Readers (the service, the checks) are in `reader`; the service's bounds its S3 requests with
`READER_S3_LIMITS`.

Up to `ann_min_rows` rows a query scans every vector (exact, and fast at that size); from there
an IVF_HNSW_SQ index is built and kept up to date as days are added (see docs/domains/search.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from glimpse_assets.search.writer_lock import table_lease
from glimpse_assets.storage.object_store import is_s3_uri, open_object_store

if TYPE_CHECKING:
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
# The service's S3 requests (lance's object-store options): connect within 2 s, a whole request
# within 4 s, one retry, no retrying past 6 s. The defaults (30 s a request, 10 retries over up to
# 180 s) left a search hanging for minutes on a stalled S3.
READER_S3_LIMITS = {
    "connect_timeout": "2s",
    "timeout": "4s",
    "client_max_retries": "1",
    "client_retry_timeout": "6",
}
DELETE_BATCH = 5000  # row ids per delete of duplicate rows


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

    def storage_options(
        self, env: Mapping[str, str] | None = None, bounded: bool = False
    ) -> dict[str, str]:
        """LanceDB's S3 options; credentials come from the standard AWS environment. `bounded`:
        with `READER_S3_LIMITS` (the service's reads)."""
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
        return {**options, **READER_S3_LIMITS} if bounded else options

    def object_store(self):
        """The object store at the same root (where the writers' lease lives)."""
        return open_object_store(self.storage_uri, self.endpoint_url, self.region_name)


def as_location(where: IndexLocation | str) -> IndexLocation:
    return where if isinstance(where, IndexLocation) else IndexLocation(where)


def connect(
    where: IndexLocation | str, read_consistency: timedelta | None = None, bounded: bool = False
):
    import lancedb

    location = as_location(where)
    return lancedb.connect(
        location.uri,
        storage_options=location.storage_options(bounded=bounded),
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


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def table_names(db) -> list[str]:
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
    # The day's documents left out: a later day indexed a newer version of each.
    documents_newer_elsewhere: int = 0
    duplicates_removed: int = 0  # rows of a chunk id found more than once, before the upsert

    def metadata(self) -> dict[str, Any]:
        """What the upsert did; the two kinds of healing only when they happened."""
        healing = {
            "documents_newer_elsewhere": self.documents_newer_elsewhere,
            "duplicates_removed": self.duplicates_removed,
        }
        return {
            "rows_in_index": self.rows,
            "rows_added": self.rows_added,
            "rows_updated": self.rows_updated,
            "rows_deleted": self.rows_deleted,
            "index_version": self.version,
            "vector_index": self.vector_index,
            "compaction": self.compaction,
            **{name: count for name, count in healing.items() if count},
        }


def sql_strings(values) -> str:
    return ", ".join(sql_string(value) for value in sorted(values))


def open_or_create(db, table_name: str, dimension: int):
    if table_name in table_names(db):
        table = db.open_table(table_name)
    else:
        table = db.create_table(table_name, schema=schema(dimension), exist_ok=True)
    existing = table.schema.field(VECTOR_COLUMN).type.list_size
    if existing != dimension:
        raise VectorIndexError(
            f"table {table_name} holds {existing}-dimensional vectors, these are {dimension}"
        )
    return table


def remove_duplicates(table) -> int:
    """Delete every row of a chunk id but one (the first stored); the number deleted."""
    import pyarrow.compute as pc

    ids = table.search().select(["id"]).with_row_id(True).limit(None).to_arrow()
    kept = ids.group_by("id").aggregate([("_rowid", "min")]).column("_rowid_min")
    if len(kept) == ids.num_rows:
        return 0
    extra = ids.filter(pc.invert(pc.is_in(ids.column("_rowid"), kept))).column("_rowid")
    extra = extra.to_pylist()
    for start in range(0, len(extra), DELETE_BATCH):
        table.delete(f"_rowid IN ({', '.join(map(str, extra[start : start + DELETE_BATCH]))})")
    return len(extra)


def indexed_later(table, documents: set[str], day: str) -> set[str]:
    """Those of `documents` that a later day indexed: that version is newer than this day's."""
    if not documents:
        return set()
    where = f"day > {sql_string(day)} AND document_id IN ({sql_strings(documents)})"
    found = table.search().where(where).select(["document_id"]).limit(None).to_arrow()
    return set(found.column("document_id").to_pylist())


def without_documents(rows: pa.Table, documents: set[str]) -> pa.Table:
    import pyarrow as pa
    import pyarrow.compute as pc

    if not documents:
        return rows
    newer = pa.array(sorted(documents), type=pa.string())
    return rows.filter(pc.invert(pc.is_in(rows.column("document_id"), newer)))


def stale_filter(day: str, kept: set[str], newer: set[str]) -> str:
    """The rows this day's upsert replaces: the day's own (but those of documents a later day
    holds) and every row of the day's documents that this day holds the newest version of."""
    stale = f"day = {sql_string(day)}"
    if newer:
        stale = f"({stale} AND document_id NOT IN ({sql_strings(newer)}))"
    if kept:
        stale += f" OR document_id IN ({sql_strings(kept)})"
    return stale


def upsert_day(
    where: IndexLocation | str,
    table_name: str,
    rows: pa.Table,
    day: str,
    ann_min_rows: int = DEFAULT_ANN_MIN_ROWS,
    max_fragments: int = COMPACT_FRAGMENTS,
) -> UpsertResult:
    """Make the table's rows for `day` and for the day's documents exactly `rows`, but for the
    documents a later day holds a newer version of; holding the table's lease throughout."""
    location = as_location(where)
    with table_lease(location.object_store(), table_name):
        return _upsert_held(location, table_name, rows, day, ann_min_rows, max_fragments)


def _upsert_held(
    location: IndexLocation,
    table_name: str,
    rows: pa.Table,
    day: str,
    ann_min_rows: int,
    max_fragments: int,
) -> UpsertResult:
    dimension = rows.schema.field(VECTOR_COLUMN).type.list_size
    table = open_or_create(connect(location), table_name, dimension)
    duplicates = remove_duplicates(table)
    documents = set(rows.column("document_id").to_pylist())
    newer = indexed_later(table, documents, day)
    rows = without_documents(rows, newer)
    stale = stale_filter(day, documents - newer, newer)
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
        documents_newer_elsewhere=len(newer),
        duplicates_removed=duplicates,
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
