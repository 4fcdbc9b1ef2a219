"""`GET /search` over the vector index and `POST /documents` into the ingest inbox.

The routes talk to a `SearchBackend`: `StoredSearch` is the real one (the shared embedder, the
index under the storage root, the object store); tests pass a fake. The routes are plain `def`s,
so FastAPI runs them in its threadpool: embedding a query or waiting on storage does not hold up
the event loop, and concurrent callers are served side by side.

A search waits at most `SEARCH_WAIT_SECONDS` for the index (its storage, and a free core): past
that, or when the storage fails, it answers 503 with `Retry-After`. The index is read in a pool of
its own, whose S3 requests are bounded too (`READER_S3_LIMITS`), so a stalled S3 holds those
threads for seconds, never a request for minutes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol, Self

from fastapi import APIRouter, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from glimpse_assets.search.inbox import MAX_DOCUMENT_BYTES, IngestedDocument
from glimpse_assets.serve.body_limit import MAX_BODY_BYTES
from glimpse_assets.serve.errors import ErrorDetail

if TYPE_CHECKING:
    from glimpse_assets.providers.embeddings import Embedder
    from glimpse_assets.storage.object_store import ObjectStore

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 1000
MAX_K = 50
SEARCH_WAIT_SECONDS = 5.0  # for the index's storage and a free core, the query's embedding apart
MIN_STORAGE_SECONDS = 1.0  # what the index is given however long the core took to come free
INDEX_READERS = 8  # threads reading the index (a stalled S3 holds them for seconds)
RETRY_AFTER_SECONDS = 5
UNAVAILABLE = "the search index did not answer in time: try again shortly"


class SearchUnavailableError(RuntimeError):
    """The index's storage did not answer within the wait, or failed: try again later."""


class SearchHit(BaseModel):
    id: str = Field(description="The chunk's id")
    document_id: str = Field(description="The document the chunk is from")
    title: str
    url: str | None
    published: str | None = Field(description="When the document was published (ISO 8601)")
    score: float = Field(description="Cosine similarity to the query: 1 is identical")
    text: str = Field(description="The chunk's text")
    source: str | None = Field(None, description="Where the document came from")


class SearchResults(BaseModel):
    query: str = Field(description="The query as searched (surrounding spaces removed)")
    results: list[SearchHit] = Field(description="Best first")
    index: Literal["ready", "empty"] = Field(
        description="`empty`: nothing is indexed yet (materialise `search_index`)"
    )


class DocumentIn(IngestedDocument):
    """A document to index: it is stored in the inbox, and the search chain indexes it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "Harbour reopens after storm repairs",
                    "text": "The harbour reopened on Monday after three weeks of repairs ...",
                    "url": "https://example.com/harbour",
                    "published": "2026-03-02T08:00:00Z",
                    "metadata": {"section": "local"},
                }
            ]
        }
    )


class DocumentAccepted(BaseModel):
    id: str = Field(description="The document's content hash: the same document, the same id")
    status: Literal["accepted", "already stored"]


class SearchBackend(Protocol):
    def search(
        self, query: str, k: int, since: date | None, until: date | None
    ) -> list[dict] | None:
        """The hits, best first; None when nothing is indexed yet."""

    def ingest(self, document: IngestedDocument, received: datetime) -> tuple[str, bool]:
        """`(id, newly stored)`."""


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
        self._store = store
        self._index = open_search_index(storage_uri, embedder.index_table, bounded=True)
        self._has_rows = False
        self._wait_seconds = wait_seconds
        # Embedding a query and searching are CPU work: as many at once as there are cores,
        # the others wait their turn rather than slow every search down together.
        self._cpu_slots = threading.BoundedSemaphore(os.cpu_count() or 1)
        self._readers = ThreadPoolExecutor(INDEX_READERS, thread_name_prefix="search-index")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        """Raises `ConfigurationError` on a bad setting."""
        from glimpse_assets.resources import shared_resources
        from glimpse_assets.settings import StorageSettings

        shared = shared_resources(env)
        storage_uri = StorageSettings.from_env(env).storage_uri
        return cls(storage_uri, shared.resources["embedder"], shared.object_store.store)

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
            vector = self._embedder.embed_query(query)
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


def _stripped(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if not value:
            raise ValueError("the query is blank")
    return value


SearchQuery = Annotated[
    str,
    BeforeValidator(_stripped),
    Query(
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        description="What to look for, in plain words (surrounding spaces are removed)",
    ),
]


def _check_days(since: date | None, until: date | None) -> None:
    if since is not None and until is not None and since > until:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "since"),
                    "msg": f"since ({since}) is after until ({until})",
                    "input": since.isoformat(),
                }
            ]
        )


def search_router(backend: SearchBackend) -> APIRouter:
    router = APIRouter(tags=["search"])

    @router.get(
        "/search",
        summary="Search the indexed documents by meaning",
        responses={
            503: {
                "model": ErrorDetail,
                "description": f"The index did not answer within {SEARCH_WAIT_SECONDS:.0f} s "
                "(its storage is slow or unreachable, or every core is busy): try again after "
                "`Retry-After` seconds",
            }
        },
    )
    def search(
        q: SearchQuery,
        k: Annotated[int, Query(ge=1, le=MAX_K, description="How many hits")] = 5,
        since: Annotated[
            date | None, Query(description="Only documents published on or after this day")
        ] = None,
        until: Annotated[
            date | None, Query(description="Only documents published on or before this day")
        ] = None,
    ) -> SearchResults:
        _check_days(since, until)
        try:
            hits = backend.search(q, k, since, until)
        except SearchUnavailableError:
            raise HTTPException(
                status_code=503,
                detail=UNAVAILABLE,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            ) from None
        if hits is None:
            return SearchResults(query=q, results=[], index="empty")
        return SearchResults(query=q, results=[SearchHit(**hit) for hit in hits], index="ready")

    @router.post(
        "/documents",
        status_code=202,
        summary="Add a document to the index",
        description=(
            "The document is stored in the ingest inbox; a sensor starts the search chain, "
            "which indexes it. Posting the same document again stores nothing new."
        ),
        max_body_size=MAX_BODY_BYTES,
        responses={
            413: {
                "model": ErrorDetail,
                "description": f"The text is over {MAX_DOCUMENT_BYTES} bytes (UTF-8), "
                f"or the body over {MAX_BODY_BYTES}",
            }
        },
    )
    def add_document(document: DocumentIn) -> DocumentAccepted:
        size = len(document.text.encode("utf-8"))
        if size > MAX_DOCUMENT_BYTES:
            raise HTTPException(
                status_code=413,
                detail=f"the text is {size} bytes (UTF-8); at most {MAX_DOCUMENT_BYTES} are taken",
            )
        identifier, stored = backend.ingest(document, datetime.now(UTC))
        return DocumentAccepted(id=identifier, status="accepted" if stored else "already stored")

    return router
