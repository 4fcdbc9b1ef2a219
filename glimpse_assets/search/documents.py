"""What a day's search chain indexes: the day's news articles and the documents ingested that
day, cleaned with the news text cleaner, as `SearchDocument`s."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from glimpse_assets.search.chunking import SearchDocument
from glimpse_assets.text import clean_text, is_missing

if TYPE_CHECKING:
    import pandas as pd

INGESTED_SOURCE = "ingested"
# An ingested text is cleaned whole (the news cleaner's default stops at 20,000 characters).
INGESTED_TEXT_LIMIT = 1_000_000


def news_document_id(source: str, article_id: str) -> str:
    """Stable across re-fetches of the day: a changed article keeps its id, so its new chunks
    replace the old ones."""
    return "news-" + hashlib.sha256(f"{source}\0{article_id}".encode()).hexdigest()[:24]


def _timestamp(value: Any) -> datetime | None:
    if is_missing(value) or value is None:
        return None
    try:
        import pandas as pd

        if value is pd.NaT:
            return None
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        return stamp.to_pydatetime()
    except (TypeError, ValueError):
        return None


def news_documents(raw_news: pd.DataFrame) -> list[SearchDocument]:
    documents = []
    for row in raw_news.itertuples(index=False):
        title, text = clean_text(row.title), clean_text(row.description)
        if not title and not text:
            continue
        source = f"news:{row.source}"
        documents.append(
            SearchDocument(
                document_id=news_document_id(str(row.source), str(row.id)),
                source=source,
                title=title or text[:80],
                text=text,
                url=None if is_missing(row.url) else str(row.url),
                published=_timestamp(row.published),
            )
        )
    return documents


def ingested_document_id(record: dict[str, Any]) -> str:
    """A document posted with a url is that url: a new version replaces the old one's chunks.
    Without one, it is its content hash (the id `POST /documents` answered)."""
    url = record["document"].get("url")
    return "url-" + hashlib.sha256(url.encode()).hexdigest()[:24] if url else record["id"]


def ingested_documents(records: list[dict[str, Any]]) -> list[SearchDocument]:
    """The day's ingested documents; of two versions of one url, the one received last."""
    latest: dict[str, dict[str, Any]] = {}
    for record in sorted(records, key=lambda record: (record["received"], record["id"])):
        latest[ingested_document_id(record)] = record
    documents = []
    for document_id, record in sorted(latest.items()):
        document = record["document"]
        published = document.get("published")
        documents.append(
            SearchDocument(
                document_id=document_id,
                source=INGESTED_SOURCE,
                title=clean_text(document["title"]),
                text=clean_text(document["text"], raw_limit=INGESTED_TEXT_LIMIT),
                url=document.get("url"),
                published=_timestamp(published) if published else None,
            )
        )
    return documents
