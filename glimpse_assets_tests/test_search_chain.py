"""The search chain end to end: article_chunks -> article_embeddings -> search_index and its
check, for two days, on local storage and on S3 (moto and SeaweedFS on 127.0.0.1): the rows indexed,
an idempotent re-run (same count, same ids), a changed article replacing its chunks, an ingested
document indexed for the day it was received."""

from __future__ import annotations

import io
from datetime import datetime

import dagster as dg
import pandas as pd
import pytest

from glimpse_assets.news.assets import raw_news
from glimpse_assets.search.inbox import IngestedDocument, ingest_document
from glimpse_assets.skipped_checks import skips_in_run
from glimpse_assets_tests.support.search import index_table, materialisation_metadata, run_search
from glimpse_assets_tests.support.stores import search_resources_at

DAYS = ("2026-03-01", "2026-03-02")


resources_at = search_resources_at


def run_news(resources: dict, day: str) -> None:
    dg.materialize([raw_news], partition_key=day, resources=resources)


def stored_frame(resources: dict, key: str) -> pd.DataFrame:
    data = resources["object_store"].store.get(key)
    return pd.read_parquet(io.BytesIO(data))


@pytest.fixture(params=["local", "moto", "seaweedfs"])
def storage_uri(request, tmp_path, s3_bucket_on):
    if request.param == "local":
        return str(tmp_path / "storage")
    bucket, _server = s3_bucket_on(request.param)
    return f"s3://{bucket}/glimpse"


@pytest.mark.slow
def test_two_days_are_indexed_and_a_re_run_changes_nothing(storage_uri):
    resources = resources_at(storage_uri)
    chunks = {}
    for day in DAYS:
        run_news(resources, day)
        result = run_search(resources, day)
        assert result.success
        chunks[day] = stored_frame(resources, f"article_chunks/{day}.parquet")
        embeddings = stored_frame(resources, f"article_embeddings/{day}.parquet")
        assert embeddings["id"].tolist() == chunks[day]["id"].tolist()
        assert embeddings["text"].tolist() == chunks[day]["text"].tolist()
        assert {len(vector) for vector in embeddings["vector"]} == {384}
        metadata = materialisation_metadata(result, "search_index")
        assert metadata["rows_added"] == len(chunks[day])
        (check,) = result.get_asset_check_evaluations()
        assert check.passed, check.description

    indexed = index_table(storage_uri)
    expected_ids = set(chunks[DAYS[0]]["id"]) | set(chunks[DAYS[1]]["id"])
    assert set(indexed["id"]) == expected_ids
    assert len(indexed) == len(expected_ids)
    assert (chunks[DAYS[0]]["tokens"] <= 256).all()

    again = run_search(resources, DAYS[0])
    metadata = materialisation_metadata(again, "search_index")
    assert metadata["rows_added"] == 0
    assert metadata["rows_deleted"] == 0
    assert metadata["rows_in_index"] == len(expected_ids)
    assert set(index_table(storage_uri)["id"]) == expected_ids
    rerun_chunks = stored_frame(resources, f"article_chunks/{DAYS[0]}.parquet")
    assert rerun_chunks["id"].tolist() == chunks[DAYS[0]]["id"].tolist()


@pytest.mark.slow
def test_a_changed_article_replaces_its_chunks(tmp_path):
    storage_uri = str(tmp_path / "storage")
    resources = resources_at(storage_uri)
    day = DAYS[0]
    run_news(resources, day)
    run_search(resources, day)
    before = stored_frame(resources, f"article_chunks/{day}.parquet")

    news = stored_frame(resources, f"raw_news/{day}.parquet")
    news.loc[0, "description"] = "The harbour bridge reopened after a week of repairs to its deck."
    buffer = io.BytesIO()
    news.to_parquet(buffer)
    resources["object_store"].store.put(f"raw_news/{day}.parquet", buffer.getvalue())
    result = run_search(resources, day)

    after = stored_frame(resources, f"article_chunks/{day}.parquet")
    changed = set(before["id"]) - set(after["id"])
    assert len(changed) == 1
    indexed = index_table(storage_uri)
    assert set(indexed["id"]) == set(after["id"])
    assert not changed & set(indexed["id"])
    assert any("harbour bridge reopened" in text for text in indexed["text"])
    metadata = materialisation_metadata(result, "search_index")
    assert (metadata["rows_added"], metadata["rows_deleted"]) == (1, 1)


@pytest.mark.slow
def test_an_ingested_document_is_indexed_for_the_day_it_was_received(tmp_path):
    storage_uri = str(tmp_path / "storage")
    resources = resources_at(storage_uri)
    day = DAYS[1]
    long_text = " ".join(
        f"Paragraph {n} of the council's transport plan covers tram line {n} and its stops."
        for n in range(80)
    )
    document = IngestedDocument(
        title="Transport plan", text=long_text, url="https://example.org/plan"
    )
    received = datetime.fromisoformat(f"{day}T09:30:00+00:00")
    store = resources["object_store"].store
    assert ingest_document(store, document, received)[1] is True
    assert ingest_document(store, document, received)[1] is False  # the same document once

    instance = dg.DagsterInstance.ephemeral()
    result = run_search(resources, day, instance)  # no raw_news stored: documents only
    assert result.success
    chunks = stored_frame(resources, f"article_chunks/{day}.parquet")
    assert len(chunks) > 1 and set(chunks["source"]) == {"ingested"}
    assert (chunks["tokens"] <= 256).all()
    assert all(text.startswith("Transport plan\n") for text in chunks["text"])
    indexed = index_table(storage_uri)
    assert set(indexed["id"]) == set(chunks["id"])
    assert set(indexed["day"]) == {day}
    # The main-story check has no news to look at: planned, run, no result (skipped, not passed).
    assert result.get_asset_check_evaluations() == []
    ((check, skipped_day, why),) = skips_in_run(instance, result.run_id)
    assert (check, skipped_day) == ("search_index_finds_the_main_story", day)
    assert "no news stored" in why
