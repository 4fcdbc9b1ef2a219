"""Turn a source's articles into the `raw_news` table: typed columns, UTC times, no duplicates.

Titles and descriptions are kept as the source sent them; `news_digest` cleans them.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

import pandas as pd

from glimpse_assets.days import day_bounds
from glimpse_assets.text import clean_text, is_missing

RAW_NEWS_COLUMNS = [
    "id",
    "title",
    "description",
    "url",
    "author",
    "image",
    "language",
    "category",
    "published",
    "source",
]

_MISSING_MARKERS = {"", "none", "null", "nan"}  # Currents sends the string "None" for no image


def _optional_text(value: Any) -> str | None:
    if is_missing(value):
        return None
    text = _raw_text(value)
    return None if text.lower() in _MISSING_MARKERS else text


def _raw_text(value: Any) -> str:
    """Text as the source sent it (cleaned later, in the digest), made safe to encode as UTF-8."""
    if is_missing(value):
        return ""
    return str(value).encode("utf-8", "replace").decode("utf-8").strip()


def _categories(value: Any) -> list[str]:
    if is_missing(value):
        return []
    items = [value] if isinstance(value, str) else list(value)
    return sorted({clean_text(item).lower() for item in items if clean_text(item)})


def _article_id(raw: dict[str, Any]) -> str | None:
    article_id = _optional_text(raw.get("id"))
    if article_id:
        return article_id
    url = _optional_text(raw.get("url"))
    return "url-" + hashlib.sha256(url.encode()).hexdigest()[:16] if url else None


def _published(value: Any) -> pd.Timestamp | None:
    text = _optional_text(value)
    if text is None:
        return None
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError):
        return None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def articles_to_frame(
    articles: list[dict[str, Any]], source: str, day: date
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The day's articles as a typed table, with counts of what was dropped and why.

    Dropped: articles with neither title nor description, with no id or url, published outside
    the day (or with no readable time), and duplicates by id or by url (first one wins, in
    publication order).
    """
    start, end = day_bounds(day)
    rows, dropped = [], {"no_text": 0, "no_id": 0, "outside_day": 0, "duplicate": 0}
    for raw in articles:
        if not isinstance(raw, dict):
            dropped["no_id"] += 1
            continue
        title, description = _raw_text(raw.get("title")), _raw_text(raw.get("description"))
        if not clean_text(title) and not clean_text(description):
            dropped["no_text"] += 1
            continue
        article_id = _article_id(raw)
        if article_id is None:
            dropped["no_id"] += 1
            continue
        published = _published(raw.get("published"))
        if published is None or not (start <= published < end):
            dropped["outside_day"] += 1
            continue
        rows.append(
            {
                "id": article_id,
                "title": title,
                "description": description,
                "url": _optional_text(raw.get("url")),
                "author": _optional_text(raw.get("author")),
                "image": _optional_text(raw.get("image")),
                "language": (_optional_text(raw.get("language")) or "und").lower(),
                "category": _categories(raw.get("category")),
                "published": published,
                "source": source,
            }
        )
    # In publication order (then id), the first of each id, then the first of each url among
    # those: sorted and deduplicated here, on tens of rows, rather than by DataFrame operations.
    rows.sort(key=lambda row: (row["published"], row["id"]))
    kept, ids, urls = [], set(), set()
    for row in rows:
        if row["id"] in ids:
            continue
        ids.add(row["id"])
        if row["url"] is not None and row["url"] in urls:
            continue
        urls.add(row["url"])
        kept.append(row)
    dropped["duplicate"] = len(rows) - len(kept)
    frame = pd.DataFrame(kept, columns=RAW_NEWS_COLUMNS)
    frame["published"] = pd.to_datetime(frame["published"], utc=True)
    text_columns = ("id", "title", "description", "url", "author", "image", "language", "source")
    return frame.astype(dict.fromkeys(text_columns, "string")), dropped
