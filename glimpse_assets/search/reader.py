"""Reading the vector index: the service's `/search`, the SMS answers and the search check.

A handle opens the table when first needed, is shared across threads and sees new versions
within `READ_CONSISTENCY` without a restart. It holds LanceDB's async table and runs each call on
LanceDB's own background loop, as LanceDB's sync API does for each of its calls: a search is one
trip there, where the sync query builder made six (three of them for the table's schema), about
2 ms of CPU a search (benchmarks/search_latency.py).

A table that is gone (nothing indexed yet, or the index folder removed after it had rows) is
"nothing indexed": `None`, and the handle opens the table again once it is back.

Results are distinct: a chunk stored twice, and one article under two ids (the sample news
reuses an article on two days: same url, text and score), come back once, at their best rank;
so does a document of several chunks (one document, one url, one result).
"""

from __future__ import annotations

import threading
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from glimpse_assets.search.index import (
    VECTOR_COLUMN,
    IndexLocation,
    as_location,
    sql_string,
)

if TYPE_CHECKING:
    import numpy as np

# How stale a reader may be: a new day is visible to the service within this long.
READ_CONSISTENCY = timedelta(seconds=2)
RESULT_COLUMNS = ["id", "document_id", "title", "url", "published", "text", "source"]
DISTANCE_COLUMN = "_distance"
# The ANN index (IVF_HNSW_SQ) compares 8-bit vectors: alone, its top 10 hold 0.93 of the exact
# top 10 (benchmarks/search_latency.py, 100,000 rows). Re-ranking twice as many candidates on the
# full vectors holds 0.99, for about 1 ms a search; a larger HNSW `ef` cannot undo quantisation
# (0.95 at ef 96). Ignored by a search with no ANN index (every vector is compared anyway).
REFINE_FACTOR = 2
# Hits fetched per distinct result wanted, at first; at most MAX_FETCH in all.
OVERFETCH = 3
MAX_FETCH = 1000


class IndexUnreachableError(OSError):
    """The index's storage could not even list its tables (lance says so with a ValueError)."""


def day_filter(since: date | None, until: date | None) -> str | None:
    parts = []
    if since is not None:
        parts.append(f"published_day >= {sql_string(since.isoformat())}")
    if until is not None:
        parts.append(f"published_day <= {sql_string(until.isoformat())}")
    return " AND ".join(parts) or None


def distinct_hits(hits: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    """The first `k` hits whose chunk id, document, url and text no better hit had."""
    seen: set[tuple[str, str]] = set()
    distinct = []
    for hit in hits:
        keys = {("id", hit["id"]), ("document", hit["document_id"]), ("text", hit["text"])}
        if hit["url"]:
            keys.add(("url", hit["url"]))
        if keys & seen:
            continue
        seen |= keys
        distinct.append(hit)
        if len(distinct) == k:
            break
    return distinct


def as_hit(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "document_id": row["document_id"],
        "title": row["title"],
        "url": row["url"],
        "published": row["published"].isoformat() if row["published"] else None,
        "score": round(1.0 - float(row[DISTANCE_COLUMN]), 6),
        "text": row["text"],
        "source": row["source"],
    }


def _run(coroutine) -> Any:
    """`coroutine`'s result, run on LanceDB's background event loop."""
    from lancedb.background_loop import LOOP

    return LOOP.run(coroutine)


async def _tables_at(location: IndexLocation, bounded: bool):
    import lancedb

    db = await lancedb.connect_async(
        location.uri,
        storage_options=location.storage_options(bounded=bounded),
        read_consistency_interval=READ_CONSISTENCY,
    )
    listed = await db.list_tables()
    return db, list(getattr(listed, "tables", listed))


class SearchIndex:
    """A read-only handle on one table; `bounded`: S3 requests bounded for a service."""

    def __init__(self, where: IndexLocation | str, table_name: str, bounded: bool = False):
        self.location = as_location(where)
        self.table_name = table_name
        self.bounded = bounded
        self._table = None
        self._lock = threading.Lock()

    def _tables(self):
        """The database and its tables; `IndexUnreachableError` when its storage fails."""
        try:
            return _run(_tables_at(self.location, self.bounded))
        except Exception as error:
            raise IndexUnreachableError(" ".join(str(error).split())[:300]) from error

    def _open(self):
        with self._lock:
            if self._table is None:
                db, tables = self._tables()
                if self.table_name not in tables:
                    return None  # nothing indexed yet: asked again next time
                self._table = _run(db.open_table(self.table_name))
            return self._table

    def _gone(self) -> bool:
        """After a failed read: whether the table is gone (then forgotten, to be opened again
        once it is back), rather than unreadable (or the storage cannot say)."""
        try:
            if self.table_name in self._tables()[1]:
                return False
        except IndexUnreachableError:
            return False
        with self._lock:
            self._table = None
        return True

    def count_rows(self) -> int:
        table = self._open()
        try:
            return 0 if table is None else _run(table.count_rows())
        except (OSError, RuntimeError):
            if self._gone():
                return 0
            raise

    def search(
        self,
        vector: np.ndarray,
        k: int,
        since: date | None = None,
        until: date | None = None,
    ) -> list[dict[str, Any]] | None:
        """The `k` nearest distinct chunks by cosine similarity (`score`, 1 is identical), best
        first; None when nothing is indexed."""
        table = self._open()
        if table is None:
            return None
        fetch = min(k * OVERFETCH, MAX_FETCH)
        while True:
            try:
                rows = self._nearest(table, vector, fetch, since, until)
            except (OSError, RuntimeError):
                if self._gone():
                    return None
                raise
            hits = distinct_hits([as_hit(row) for row in rows], k)
            if len(hits) == k or len(rows) < fetch or fetch >= MAX_FETCH:
                return hits
            fetch = min(fetch * 4, MAX_FETCH)

    @staticmethod
    def _nearest(table, vector, limit: int, since: date | None, until: date | None) -> list:
        query = (
            table.vector_search(vector)
            .column(VECTOR_COLUMN)
            .distance_type("cosine")
            .refine_factor(REFINE_FACTOR)
        )
        where = day_filter(since, until)
        if where:
            query = query.where(where)  # before the search (a prefilter), as is the default
        # `_distance` named in the projection: lance's non-deprecated way to keep the score
        # (leaving it out logs a deprecation warning on every search).
        return _run(query.select([*RESULT_COLUMNS, DISTANCE_COLUMN]).limit(limit).to_list())


def open_search_index(where: IndexLocation | str, table: str, bounded: bool = False) -> SearchIndex:
    return SearchIndex(where, table, bounded)
