"""The ingest inbox: documents posted to `POST /documents`, waiting for the search chain.

A document is one JSON object at `_inbox/documents/<received UTC day>/<id>.json`, where the id
is a hash of its content: posting the same document twice stores it once (the write is the
object store's conditional `create`, so two concurrent posts have one winner and the other
learns the document is already there). `ingested_documents_sensor` launches the search chain for
a day whose documents changed; `article_chunks` reads the day's documents from here.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from glimpse_assets.storage.object_store import AlreadyExistsError, ObjectStore

INBOX_PREFIX = "_inbox/documents"
MAX_DOCUMENT_BYTES = 1_000_000  # of text, UTF-8; the service answers 413 above it
MetadataValue = str | int | float | bool


def _storable(value: Any) -> Any:
    """Refuse what JSON can parse but neither UTF-8 nor strict JSON can store: half a UTF-16
    surrogate pair (`"\\ud800"`) and NaN or infinite numbers."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("a text holds half a UTF-16 surrogate pair: not Unicode") from None
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value} is not a number JSON can store")
    elif isinstance(value, dict):
        for item in (*value.keys(), *value.values()):
            _storable(item)
    return value


class IngestedDocument(BaseModel):
    """What `POST /documents` accepts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    url: Annotated[str, StringConstraints(max_length=2000)] | None = None
    published: datetime | None = None
    metadata: dict[Annotated[str, Field(max_length=100)], MetadataValue] | None = Field(
        default=None, max_length=50
    )

    @model_validator(mode="before")
    @classmethod
    def _only_storable_values(cls, values: Any) -> Any:
        return _storable(values)


def document_id(document: IngestedDocument) -> str:
    """A hash of everything the document says: the same document always gets the same id."""
    canonical = json.dumps(
        document.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return "doc-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def day_folder(day: date | str) -> str:
    day = day.isoformat() if isinstance(day, date) else day
    return f"{INBOX_PREFIX}/{day}"


def ingest_document(
    store: ObjectStore, document: IngestedDocument, received: datetime
) -> tuple[str, bool]:
    """Store the document under the day it was received (UTC); `(id, newly stored)`."""
    identifier = document_id(document)
    received = received.astimezone(UTC)
    record = {
        "id": identifier,
        "received": received.isoformat(),
        "document": document.model_dump(mode="json"),
    }
    key = f"{day_folder(received.date())}/{identifier}.json"
    data = json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8")
    try:
        store.create(key, data, content_type="application/json")
    except AlreadyExistsError:
        return identifier, False
    return identifier, True


def day_document_keys(store: ObjectStore, day: date | str) -> list[str]:
    """The keys of a day's documents, sorted."""
    return sorted(key for key in store.list(day_folder(day)) if key.endswith(".json"))


def day_documents(store: ObjectStore, day: date | str) -> list[dict]:
    """A day's records (`id`, `received`, `document`), in id order."""
    return [json.loads(store.get(key)) for key in day_document_keys(store, day)]
