"""`GET /search` over the vector index and `POST /documents` into the ingest inbox.

The routes talk to a `SearchBackend`: `StoredSearch` (`search.stored`, shared with the `glimpse`
commands) is the real one (the shared embedder, the index under the storage root, the object
store); tests pass a fake. The routes are plain `def`s, so FastAPI runs them in its threadpool:
embedding a query or waiting on storage does not hold up the event loop, and concurrent callers
are served side by side.

`/search` answers with its JSON already made (`search_response`): the models are built from the
hits (validated once) and dumped by pydantic-core; FastAPI's own path would validate the model it
was given a second time, in a second trip through the threadpool. `response_model` keeps the
OpenAPI schema as it was.

A search waits at most `SEARCH_WAIT_SECONDS` for the index (its storage, and a free core): past
that, or when the storage fails, it answers 503 with `Retry-After`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from glimpse_assets.search.inbox import (
    MAX_DOCUMENT_BYTES,
    DocumentTooLargeError,
    IngestedDocument,
    check_text_size,
)
from glimpse_assets.search.stored import (
    MAX_QUERY_CHARS,
    SEARCH_WAIT_SECONDS,
    UNAVAILABLE,
    SearchUnavailableError,
)
from glimpse_assets.search.stored import StoredSearch as StoredSearch
from glimpse_assets.serve.body_limit import MAX_BODY_BYTES
from glimpse_assets.serve.errors import ErrorDetail

MAX_K = 50
RETRY_AFTER_SECONDS = 5


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


def search_response(query: str, hits: list[dict] | None) -> Response:
    """`SearchResults` as a JSON response (`hits` None: nothing indexed yet)."""
    if hits is None:
        results = SearchResults(query=query, results=[], index="empty")
    else:
        results = SearchResults(
            query=query, results=[SearchHit(**hit) for hit in hits], index="ready"
        )
    return Response(results.model_dump_json(), media_type="application/json")


def search_router(backend: SearchBackend) -> APIRouter:
    router = APIRouter(tags=["search"])

    @router.get(
        "/search",
        summary="Search the indexed documents by meaning",
        response_model=SearchResults,
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
    ) -> Response:
        _check_days(since, until)
        try:
            hits = backend.search(q, k, since, until)
        except SearchUnavailableError:
            raise HTTPException(
                status_code=503,
                detail=UNAVAILABLE,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            ) from None
        return search_response(q, hits)

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
        try:
            check_text_size(document)
        except DocumentTooLargeError as error:
            raise HTTPException(status_code=413, detail=str(error)) from None
        identifier, stored = backend.ingest(document, datetime.now(UTC))
        return DocumentAccepted(id=identifier, status="accepted" if stored else "already stored")

    return router
