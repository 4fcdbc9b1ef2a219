"""`answers_given`'s day: the answer log's records of a day (`sms.answer_log`) as a table, one
row per answer, with counts by channel and kind in its metadata.

Columns (`ANSWER_COLUMNS`): `answer_id`, `channel`, `kind`, `model`, `answered_at` (UTC),
`answer` (the text given), `cited_chunk_id` (the source the text names, if any) and `sources`:
the JSON list of the hits it was made from (chunk id, document id, title, day, url, text,
cited), what `answers_are_grounded` holds the answer to.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from typing import TYPE_CHECKING, Any

import dagster as dg

from glimpse_assets.ranges import add_day_metadata
from glimpse_assets.storage.object_store import ObjectStore

if TYPE_CHECKING:
    import pandas as pd

ANSWER_COLUMNS = [
    "answer_id",
    "channel",
    "kind",
    "model",
    "answered_at",
    "answer",
    "cited_chunk_id",
    "sources",
]
PREVIEW_COLUMNS = ["answered_at", "channel", "kind", "answer"]
PREVIEW_ROWS = 10


def answers_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The answer log's records (`answer_log.day_records`) as `ANSWER_COLUMNS`, typed."""
    import pandas as pd

    def cited(record: dict[str, Any]) -> str | None:
        return next((s.get("chunk_id") for s in record["sources"] if s.get("cited")), None)

    columns = {
        "answer_id": [r["id"] for r in records],
        "channel": [r["channel"] for r in records],
        "kind": [str(r.get("kind") or "") for r in records],
        "model": [r.get("model") for r in records],
        "answered_at": pd.to_datetime([r["answered_at"] for r in records], utc=True).astype(
            "datetime64[us, UTC]"
        ),
        "answer": [r["answer"] for r in records],
        "cited_chunk_id": [cited(r) for r in records],
        "sources": [json.dumps(r["sources"], ensure_ascii=False, sort_keys=True) for r in records],
    }
    frame = pd.DataFrame(columns)
    text = [c for c in ANSWER_COLUMNS if c != "answered_at"]
    return frame.astype({c: "string" for c in text})[ANSWER_COLUMNS]


def counts(values: list[str]) -> str:
    return ", ".join(f"{value} {n}" for value, n in sorted(Counter(values).items())) or "none"


def answers_for_day(context: Any, store: ObjectStore, day: date) -> pd.DataFrame:
    """The day's answers from the log, with what a person wants to see of them."""
    from glimpse_assets.metadata import markdown_table
    from glimpse_assets.sms.answer_log import ANSWERS_PREFIX, CHANNELS, day_records

    records, unreadable = day_records(store, day.isoformat())
    frame = answers_frame(records)
    if unreadable:
        context.log.warning(
            f"{len(unreadable)} answer records are not readable and left out: "
            + ", ".join(unreadable[:5])
        )
    by_channel = Counter(frame["channel"].tolist())
    add_day_metadata(
        context,
        {
            "answers": len(frame),
            **{f"answers_{channel}": by_channel.get(channel, 0) for channel in CHANNELS},
            "kinds": counts(frame["kind"].tolist()),
            "unreadable_records": len(unreadable),
            "log": store.uri(f"{ANSWERS_PREFIX}/{day.isoformat()}"),
            "preview": dg.MetadataValue.md(
                markdown_table(frame, PREVIEW_COLUMNS, limit=PREVIEW_ROWS)
            ),
        },
    )
    return frame
