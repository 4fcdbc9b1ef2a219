"""ingested_documents_sensor: a day whose inbox changed gets one search_job run, and the run
indexes what was posted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from glimpse_assets.providers.minilm_embedder import MiniLMEmbedder
from glimpse_assets.search.inbox import IngestedDocument, ingest_document
from glimpse_assets.search.sensors import days_to_look_at, ingested_documents_sensor
from glimpse_assets_tests.support.stores import search_definitions, search_resources_at


@pytest.fixture
def resources(tmp_path) -> dict:
    return search_resources_at(str(tmp_path / "storage"))


def tick(instance, resources, cursor=None) -> dg.SensorResult:
    sensor_resources = {"object_store": resources["object_store"]}
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=sensor_resources
    ) as context:
        return ingested_documents_sensor(context)


def post(resources, title: str, text: str, received: datetime) -> str:
    document = IngestedDocument(title=title, text=text)
    return ingest_document(resources["object_store"].store, document, received)[0]


def test_days_looked_at_run_from_the_day_before_the_cursor_to_today():
    today = datetime(2026, 3, 5, tzinfo=UTC).date()
    assert days_to_look_at(today, None) == [today - timedelta(days=1), today]
    assert days_to_look_at(today, "2026-03-02") == [
        today - timedelta(days=n) for n in (4, 3, 2, 1, 0)
    ]


@pytest.mark.slow
def test_one_run_per_set_of_documents_and_the_run_indexes_them(resources):
    now = datetime.now(UTC)
    with dg.instance_for_test() as instance:
        empty = tick(instance, resources)
        assert not empty.run_requests
        assert "no ingested documents" in empty.skip_reason.skip_message

        post(resources, "Night trams", "The city will run trams all night on weekends.", now)
        first = tick(instance, resources)
        (request,) = first.run_requests
        assert request.partition_key == now.date().isoformat()
        again = tick(instance, resources, first.cursor)
        assert [r.run_key for r in again.run_requests] == [request.run_key]  # Dagster dedups

        post(resources, "Library hours", "Branch libraries open on Sundays from May.", now)
        (second,) = tick(instance, resources, first.cursor).run_requests
        assert second.run_key != request.run_key

        defs = search_definitions(resources)
        run = defs.resolve_job_def("search_job").execute_in_process(
            partition_key=second.partition_key, instance=instance, tags=second.tags
        )
        assert run.success
        index = resources["vector_index"].reader(MiniLMEmbedder().index_table)
        query = MiniLMEmbedder().embed_query("can I take a tram late at night?")
        best = index.search(query, k=1)[0]
        assert best["title"] == "Night trams"
        assert index.count_rows() == 2
