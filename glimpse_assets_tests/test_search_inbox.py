"""Garbage in the ingest inbox: each bad object is named (its key and what is wrong, never its
content) and skipped; the day's other documents are indexed and the run succeeds."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from glimpse_assets.search.inbox import (
    IngestedDocument,
    day_document_keys,
    ingest_document,
    read_day_documents,
)
from glimpse_assets.storage.object_store import LocalObjectStore
from glimpse_assets_tests.support.search import index_table, materialisation_metadata, run_search
from glimpse_assets_tests.support.stores import search_resources_at

DAY = "2026-03-01"
SECRET = "+15551234567"  # what a caller posted must never come back in an error
GOOD = {"title": "Ferry timetable", "text": "The island ferry leaves every forty minutes."}
GARBAGE = {
    "truncated.json": f'{{"id": "doc-1", "document": {{"title": "{SECRET}'.encode(),
    "binary.json": b"\xff\xfe\x00" + SECRET.encode() + b"\x80",
    "a-list.json": json.dumps([SECRET]).encode(),
    "no-document.json": json.dumps({"id": SECRET, "received": f"{DAY}T09:00:00+00:00"}).encode(),
    "bad-document.json": json.dumps(
        {
            "id": "doc-2",
            "received": f"{DAY}T09:00:00+00:00",
            "document": {"title": "", "text": SECRET, "extra": SECRET},
        }
    ).encode(),
    "bad-received.json": json.dumps(
        {"id": "doc-3", "received": SECRET, "document": {"title": "t", "text": "x"}}
    ).encode(),
}
WHAT_IS_WRONG = {
    "truncated.json": "not JSON",
    "binary.json": "not UTF-8",
    "a-list.json": "not a JSON object",
    "no-document.json": "document: missing",
    "bad-document.json": "document.title",
    "bad-received.json": "received: not an ISO 8601 time",
}


def fill_inbox(store) -> str:
    good_id, _ = ingest_document(
        store, IngestedDocument(**GOOD), datetime.fromisoformat(f"{DAY}T08:00:00+00:00")
    )
    for name, data in GARBAGE.items():
        store.put(f"_inbox/documents/{DAY}/{name}", data)
    return good_id


def test_each_bad_object_is_named_and_skipped(tmp_path):
    store = LocalObjectStore(tmp_path)
    good_id = fill_inbox(store)

    records, problems = read_day_documents(store, DAY)

    assert [record["id"] for record in records] == [good_id]
    assert len(problems) == len(GARBAGE) == len(day_document_keys(store, DAY)) - 1
    for name, wrong in WHAT_IS_WRONG.items():
        (problem,) = [p for p in problems if p.startswith(f"_inbox/documents/{DAY}/{name}: ")]
        assert wrong in problem, problem
        assert "\n" not in problem and len(problem) < 300
    assert not any(SECRET in problem for problem in problems)


@pytest.mark.parametrize("bad", ["truncated.json", "bad-document.json"])
@pytest.mark.slow
def test_a_garbage_inbox_document_does_not_fail_the_days_search_job(tmp_path, bad):
    storage_uri = str(tmp_path / "storage")
    resources = search_resources_at(storage_uri)
    store = resources["object_store"].store
    ingest_document(
        store, IngestedDocument(**GOOD), datetime.fromisoformat(f"{DAY}T08:00:00+00:00")
    )
    store.put(f"_inbox/documents/{DAY}/{bad}", GARBAGE[bad])

    result = run_search(resources, DAY)

    assert result.success
    assert list(index_table(storage_uri)["title"]) == ["Ferry timetable"]
    metadata = materialisation_metadata(result, "article_chunks")
    assert metadata["ingested_documents"] == 1
    (skipped,) = metadata["inbox_objects_skipped"]
    assert skipped.startswith(f"_inbox/documents/{DAY}/{bad}: {WHAT_IS_WRONG[bad]}")
    assert not any(SECRET in repr(value) for value in metadata.values())
