"""`GET /search` over the vector index and `POST /documents` into the ingest inbox.

The routes talk to a `SearchBackend`: `StoredSearch` is the real one (the shared embedder, the
index under the storage root, the object store); tests pass a fake. The routes are plain `def`s,
so FastAPI runs them in its threadpool: embedding a query or waiting on storage does not hold up
the event loop, and concurrent callers are served side by side.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
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

MAX_QUERY_CHARS = 1000
MAX_K = 50


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

    def __init__(self, storage_uri: str, embedder: Embedder, store: ObjectStore):
        from glimpse_assets.search.index import open_search_index

        self.storage_uri = storage_uri
        self._embedder = embedder
        self._store = store
        self._index = open_search_index(storage_uri, embedder.index_table)
        self._has_rows = False
        # Embedding a query and searching are CPU work: as many at once as there are cores,
        # the others wait their turn rather than slow every search down together.
        self._cpu_slots = threading.BoundedSemaphore(os.cpu_count() or 1)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        """Raises `ConfigurationError` on a bad setting."""
        from glimpse_assets.resources import shared_resources
        from glimpse_assets.settings import StorageSettings

        shared = shared_resources(env)
        storage_uri = StorageSettings.from_env(env).storage_uri
        return cls(storage_uri, shared.resources["embedder"], shared.object_store.store)

    def _ready(self) -> bool:
        """Whether anything is indexed; once it is, it stays so (no more counting)."""
        if not self._has_rows:
            self._has_rows = self._index.count_rows() > 0
        return self._has_rows

    def search(
        self, query: str, k: int, since: date | None, until: date | None
    ) -> list[dict] | None:
        if not self._ready():
            return None  # nothing to search, and no model to load for it
        with self._cpu_slots:
            vector = self._embedder.embed_query(query)
            return self._index.search(vector, k=k, since=since, until=until)

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

    @router.get("/search", summary="Search the indexed documents by meaning")
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
        hits = backend.search(q, k, since, until)
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
