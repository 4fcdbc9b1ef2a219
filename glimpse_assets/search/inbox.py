"""The ingest inbox: documents posted to `POST /documents`, waiting for the search chain.

A document is one JSON object at `_inbox/documents/<received UTC day>/<id>.json`, where the id
is a hash of its content: posting the same document twice stores it once (the write is the
object store's conditional `create`, so two concurrent posts have one winner and the other
learns the document is already there). `ingested_documents_sensor` launches the search chain for
a day whose documents changed; `article_chunks` reads the day's documents from here.

What is stored there is checked again when it is read: an object that is not a record of a
document `POST /documents` would accept (garbage, a truncated write, a hand-made file) is named,
with what is wrong and never its content, and left out; the day's other documents are indexed.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from glimpse_assets.storage.object_store import AlreadyExistsError, ObjectNotFoundError, ObjectStore

INBOX_PREFIX = "_inbox/documents"
MAX_DOCUMENT_BYTES = 1_000_000  # of text, UTF-8; the service answers 413 above it
MetadataValue = str | int | float | bool
MAX_ID_CHARS = 100
PROBLEMS_NAMED = 3  # of a document's validation errors, in the one line that names them


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


class DocumentTooLargeError(ValueError):
    """The document's text is over `MAX_DOCUMENT_BYTES` (the service answers 413)."""


def check_text_size(document: IngestedDocument) -> None:
    """Raise `DocumentTooLargeError` when the text is over `MAX_DOCUMENT_BYTES` in UTF-8: what
    `POST /documents` and `glimpse ingest` refuse."""
    size = len(document.text.encode("utf-8"))
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentTooLargeError(
            f"the text is {size} bytes (UTF-8); at most {MAX_DOCUMENT_BYTES} are taken"
        )


def accepted_document(fields: dict[str, Any]) -> IngestedDocument:
    """The document `POST /documents` would accept for `fields`, or `ValueError` naming what is
    wrong (the fields and the problems, never the values)."""
    try:
        document = IngestedDocument.model_validate(fields)
    except ValidationError as error:
        raise ValueError(_field_problems(error)) from None
    check_text_size(document)
    return document


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


def stored_document_ids(store: ObjectStore) -> set[str]:
    """The ids of every document in the inbox, whichever day received it (one listing)."""
    return {
        key.rpartition("/")[2].removesuffix(".json")
        for key in store.list(INBOX_PREFIX)
        if key.endswith(".json")
    }


def day_document_keys(store: ObjectStore, day: date | str) -> list[str]:
    """The keys of a day's documents, sorted."""
    return sorted(key for key in store.list(day_folder(day)) if key.endswith(".json"))


def _field_problems(error: ValidationError) -> str:
    """Where and what, by the schema's own names: a part of `loc` that is not a field name (an
    unknown key, a metadata key) is `*`, as it is what the caller sent."""
    named = []
    for item in error.errors()[:PROBLEMS_NAMED]:
        field = item["loc"][0] if item["loc"] else "*"
        field = field if field in IngestedDocument.model_fields else "*"
        named.append(f"document.{field}: {item['type']}")
    more = len(error.errors()) - PROBLEMS_NAMED
    return "; ".join(named) + (f"; and {more} more" if more > 0 else "")


def read_record(data: bytes) -> dict[str, Any]:
    """A stored record (`id`, `received`, `document`), checked; `ValueError` says what is
    wrong with it in a few words, never quoting it."""
    try:
        record = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON ({error.msg}, line {error.lineno})") from None
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    identifier = record.get("id")
    if not isinstance(identifier, str) or not 0 < len(identifier) <= MAX_ID_CHARS:
        raise ValueError(f"id: missing, or not a text of 1 to {MAX_ID_CHARS} characters")
    try:
        received = datetime.fromisoformat(record["received"])
    except KeyError:
        raise ValueError("received: missing") from None
    except (TypeError, ValueError):
        raise ValueError("received: not an ISO 8601 time") from None
    if received.tzinfo is None:
        raise ValueError("received: no UTC offset")
    if "document" not in record:
        raise ValueError("document: missing")
    try:
        document = IngestedDocument.model_validate(record["document"])
    except ValidationError as error:
        raise ValueError(_field_problems(error)) from None
    return {
        "id": identifier,
        "received": received.astimezone(UTC).isoformat(),
        "document": document.model_dump(mode="json"),
    }


def read_day_documents(store: ObjectStore, day: date | str) -> tuple[list[dict], list[str]]:
    """A day's records (`id`, `received`, `document`), in key order, and one line for each
    object left out: `<key>: <what is wrong>`."""
    records, problems = [], []
    for key in day_document_keys(store, day):
        try:
            records.append(read_record(store.get(key)))
        except ObjectNotFoundError:
            continue  # removed since it was listed
        except ValueError as error:
            problems.append(f"{key}: {error}")
    return records, problems


def day_documents(store: ObjectStore, day: date | str) -> list[dict]:
    """A day's good records (see `read_day_documents`)."""
    return read_day_documents(store, day)[0]
