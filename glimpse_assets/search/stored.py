"""The index and the inbox as Dagster stored them, for the readers outside a run: `glimpse
serve`'s `/search`, `/ask` and `POST /documents`, the SMS answers, and the `glimpse search`, `ask`
and `ingest` commands, so that all of them search and ingest through the same code.

A search waits at most `wait_seconds` for the index (its storage, and a free core): past that, or
when the storage fails, it raises `SearchUnavailableError`. The index is read in a pool of its
own, whose S3 requests are bounded too (`READER_S3_LIMITS`), so a stalled S3 holds those threads
for seconds, never a caller for minutes.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Self

from glimpse_assets.search.inbox import IngestedDocument

if TYPE_CHECKING:
    from glimpse_assets.providers.embeddings import Embedder
    from glimpse_assets.storage.object_store import ObjectStore

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 1000  # of a query or a question
SEARCH_WAIT_SECONDS = 5.0  # for the index's storage and a free core, the query's embedding apart
MIN_STORAGE_SECONDS = 1.0  # what the index is given however long the core took to come free
INDEX_READERS = 8  # threads reading the index (a stalled S3 holds them for seconds)
# Queries whose vectors a process keeps (1.5 KB each at 384 dimensions): a query asked again
# (a page reloaded, the same SMS question) is not embedded again; the embedder is deterministic.
QUERY_VECTORS = 1024
UNAVAILABLE = "the search index did not answer in time: try again shortly"


class SearchUnavailableError(RuntimeError):
    """The index's storage did not answer within the wait, or failed: try again later."""


class StoredSearch:
    """What Dagster stored: the index handle is opened once and reused (it sees new versions
    of the index by itself); the embedder loads its model with the first query."""

    def __init__(
        self,
        storage_uri: str,
        embedder: Embedder,
        store: ObjectStore,
        wait_seconds: float = SEARCH_WAIT_SECONDS,
    ):
        from glimpse_assets.search.reader import open_search_index

        self.storage_uri = storage_uri
        self._embedder = embedder
        self._query_vector = functools.lru_cache(maxsize=QUERY_VECTORS)(
            lambda query: self._embedder.embed_query(query)  # looked up when first needed
        )
        self._store = store
        self._index = open_search_index(storage_uri, embedder.index_table, bounded=True)
        self._has_rows = False
        self._wait_seconds = wait_seconds
        # Embedding a query and searching are CPU work: as many at once as there are cores,
        # the others wait their turn rather than slow every search down together.
        self._cpu_slots = threading.BoundedSemaphore(os.cpu_count() or 1)
        self._readers = ThreadPoolExecutor(INDEX_READERS, thread_name_prefix="search-index")

    @classmethod
    def from_env(cls, env: Mapping[str, str], wait_seconds: float = SEARCH_WAIT_SECONDS) -> Self:
        """Raises `ConfigurationError` on a bad setting."""
        from glimpse_assets.resources import shared_resources
        from glimpse_assets.settings import StorageSettings

        shared = shared_resources(env)
        storage_uri = StorageSettings.from_env(env).storage_uri
        return cls(
            storage_uri,
            shared.resources["embedder"],
            shared.object_store.store,
            wait_seconds,
        )

    def _read(self, seconds: float, call: Callable[..., Any], *args: Any) -> Any:
        """`call(*args)` on the index, in the readers' pool, given `seconds`; a storage failure
        or no answer in time is `SearchUnavailableError`."""
        pending = self._readers.submit(call, *args)
        try:
            return pending.result(timeout=seconds)
        except FutureTimeout:
            pending.cancel()
            log.warning("search index: no answer in %.1f s", seconds)
        except (OSError, RuntimeError) as error:  # lance's storage errors
            cause = " ".join(str(error).split())[:200]
            log.warning("search index: %s: %s", type(error).__name__, cause)
        raise SearchUnavailableError(UNAVAILABLE)

    def _ready(self) -> bool:
        """Whether anything is indexed; once it is, it stays so (no more counting) until a
        search finds the index gone."""
        if not self._has_rows:
            self._has_rows = self._read(self._wait_seconds, self._index.count_rows) > 0
        return self._has_rows

    def indexed_rows(self) -> int:
        """How many chunks the index holds (0: nothing indexed yet), within the wait."""
        return self._read(self._wait_seconds, self._index.count_rows)

    def search(
        self, query: str, k: int, since: date | None, until: date | None
    ) -> list[dict] | None:
        if not self._ready():
            return None  # nothing to search, and no model to load for it
        started = time.monotonic()
        if not self._cpu_slots.acquire(timeout=self._wait_seconds):
            raise SearchUnavailableError(UNAVAILABLE)
        try:
            waited = time.monotonic() - started
            vector = self._query_vector(query)
            left = max(self._wait_seconds - waited, MIN_STORAGE_SECONDS)
            hits = self._read(left, self._index.search, vector, k, since, until)
        finally:
            self._cpu_slots.release()
        if hits is None:  # the index is gone (removed after it had rows): empty again
            self._has_rows = False
        return hits

    def ingest(self, document: IngestedDocument, received: datetime) -> tuple[str, bool]:
        from glimpse_assets.search.inbox import ingest_document

        return ingest_document(self._store, document, received)
