"""The newest version of a document wins, whatever order the days are (re)run in: a url posted
on one day and again, changed, on the next stays at its newer text when the older day is run
again (as the automation sensor does once the day's news is stored)."""

from __future__ import annotations

from datetime import datetime

import pytest

from glimpse_assets.search.inbox import IngestedDocument, ingest_document
from glimpse_assets.search.index import connect, upsert_day
from glimpse_assets_tests.support.search import chunk_rows, index_table, run_search
from glimpse_assets_tests.support.stores import search_resources_at

URL = "https://example.org/ferry"
OLD = "The island ferry leaves every hour from the north pier."
NEW = "The island ferry now leaves every forty minutes from the new south pier."


def post(resources: dict, text: str, received: str) -> None:
    document = IngestedDocument(title="Ferry timetable", text=text, url=URL)
    store = resources["object_store"].store
    assert ingest_document(store, document, datetime.fromisoformat(received))[1]


def indexed_texts(storage_uri: str) -> list[str]:
    return sorted(index_table(storage_uri)["text"])


@pytest.mark.parametrize(
    "order",
    [
        ("2026-03-01", "2026-03-02", "2026-03-01"),  # the older day re-run after the newer one
        ("2026-03-02", "2026-03-01"),  # a backfill that runs the newer day first
    ],
)
@pytest.mark.slow
def test_the_newest_version_of_a_document_wins_whatever_order_days_run_in(tmp_path, order):
    storage_uri = str(tmp_path / "storage")
    resources = search_resources_at(storage_uri)
    post(resources, OLD, "2026-03-01T09:00:00+00:00")
    post(resources, NEW, "2026-03-02T09:00:00+00:00")

    for day in order:
        assert run_search(resources, day).success

    assert indexed_texts(storage_uri) == [f"Ferry timetable\n{NEW}"]


def test_an_older_day_leaves_a_newer_days_rows_of_its_document(tmp_path):
    root = str(tmp_path)
    newer = chunk_rows("2026-03-02", [("doc-1", "https://a", ["v2 first", "v2 second"])])
    older = chunk_rows("2026-03-01", [("doc-1", "https://a", ["v1"]), ("doc-2", None, ["b"])])
    upsert_day(root, "space", newer, "2026-03-02")

    result = upsert_day(root, "space", older, "2026-03-01")

    table = connect(root).open_table("space").to_arrow()
    assert sorted(table.column("text").to_pylist()) == ["b", "v2 first", "v2 second"]
    assert (result.rows_added, result.rows_deleted, result.documents_newer_elsewhere) == (1, 0, 1)
    again = upsert_day(root, "space", newer, "2026-03-02")  # the newer day again: unchanged
    assert (again.rows, again.rows_added, again.rows_deleted) == (3, 0, 0)
