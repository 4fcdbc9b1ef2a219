"""The vector index and the inbox without Dagster: S3 options from the object store's settings,
filters, a table of another vector space refused, two processes upserting at once (nothing
lost), and what the inbox refuses to store."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from glimpse_assets.search.inbox import IngestedDocument, day_documents, ingest_document
from glimpse_assets.search.index import (
    IndexLocation,
    VectorIndexError,
    connect,
    fragment_count,
    upsert_day,
)
from glimpse_assets.search.reader import day_filter
from glimpse_assets.storage.object_store import open_object_store
from glimpse_assets_tests.support.search import rows


def test_s3_options_follow_the_object_store_settings():
    assert IndexLocation("/data/storage").storage_options({}) == {}
    assert IndexLocation("/data/storage").uri == "/data/storage/_vector_index"
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_DEFAULT_REGION": "eu-west-1"}
    assert IndexLocation("s3://bucket/glimpse").storage_options(env) == {
        "aws_endpoint": "http://127.0.0.1:9000",
        "allow_http": "true",
        "aws_region": "eu-west-1",
    }
    explicit = IndexLocation("s3://bucket/glimpse", "https://s3.example", "us-east-2")
    assert explicit.storage_options(env) == {
        "aws_endpoint": "https://s3.example",
        "aws_region": "us-east-2",
    }


def test_day_filters_quote_their_values():
    assert day_filter(None, None) is None
    assert day_filter(date(2026, 3, 1), date(2026, 3, 2)) == (
        "published_day >= '2026-03-01' AND published_day <= '2026-03-02'"
    )


def test_a_table_of_another_dimension_is_refused(tmp_path):
    upsert_day(str(tmp_path), "space", rows("2026-03-01", 4), "2026-03-01")
    with pytest.raises(VectorIndexError, match="holds 384-dimensional vectors, these are 8"):
        upsert_day(str(tmp_path), "space", rows("2026-03-02", 4, dimension=8), "2026-03-02")
    assert connect(str(tmp_path)).open_table("space").count_rows() == 4


def test_an_empty_day_removes_that_days_rows_only(tmp_path):
    root = str(tmp_path)
    upsert_day(root, "space", rows("2026-03-01", 6), "2026-03-01")
    upsert_day(root, "space", rows("2026-03-02", 4), "2026-03-02")
    result = upsert_day(root, "space", rows("2026-03-01", 0), "2026-03-01")
    assert (result.rows, result.rows_deleted) == (4, 6)


UPSERT = """
import sys
sys.path.insert(0, {repo!r})
from glimpse_assets_tests.support.search import rows
from glimpse_assets.search.index import upsert_day
for day in sys.argv[2:]:
    upsert_day(sys.argv[1], "space", rows(day, 40, prefix=day), day, max_fragments=2)
"""


@pytest.mark.parametrize("where", ["local", "moto", "seaweedfs"])
@pytest.mark.process
def test_two_processes_upserting_at_once_lose_nothing_while_compacting(
    where, tmp_path, s3_bucket_on
):
    import os
    from pathlib import Path

    root = str(tmp_path / "storage")
    if where != "local":
        root = f"s3://{s3_bucket_on(where)[0]}/glimpse"
    script = UPSERT.format(repo=str(Path(__file__).resolve().parent.parent))
    days = [f"2026-03-{n:02d}" for n in range(1, 13)]
    processes = [
        subprocess.Popen([sys.executable, "-c", script, root, *days[i::2]], env=dict(os.environ))
        for i in range(2)
    ]
    assert [process.wait(timeout=300) for process in processes] == [0, 0]
    table = connect(root).open_table("space")
    assert table.count_rows() == 40 * len(days)
    assert set(table.to_pandas()["day"]) == set(days)


def test_the_inbox_refuses_what_it_cannot_store_and_stores_a_document_once(tmp_path):
    for bad in (
        {"title": "t", "text": "half a pair \ud800"},
        {"title": "t", "text": "ok", "metadata": {"score": math.nan}},
        {"title": "   ", "text": "no title"},
        {"title": "t", "text": "ok", "extra": "field"},
    ):
        with pytest.raises(ValidationError):
            IngestedDocument.model_validate(bad)
    store = open_object_store(str(tmp_path))
    document = IngestedDocument(title="Ferry", text="Every forty minutes.")
    received = datetime(2026, 3, 1, 23, 59, tzinfo=UTC)
    first = ingest_document(store, document, received)
    assert ingest_document(store, document, received) == (first[0], False)
    (record,) = day_documents(store, "2026-03-01")
    assert record["id"] == first[0] and record["document"]["title"] == "Ferry"


def test_daily_fragments_are_compacted_and_no_row_is_lost(tmp_path):
    root = str(tmp_path)
    for n in range(1, 8):
        day = f"2026-03-{n:02d}"
        result = upsert_day(root, "space", rows(day, 10, prefix=day), day, max_fragments=4)
    table = connect(root).open_table("space")
    assert fragment_count(table) <= 4
    assert table.count_rows() == result.rows == 70
    assert "compacted" in result.compaction or "not needed" in result.compaction
