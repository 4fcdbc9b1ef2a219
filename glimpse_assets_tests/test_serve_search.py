"""`glimpse serve` over a real index, as a real process driven with httpx: a paraphrase finds
its article, filters and bad parameters, and the ingest path end to end (POST /documents ->
ingested_documents_sensor -> search_job -> the document is found, without a restart)."""

from __future__ import annotations

import time

import dagster as dg
import pytest

from glimpse_assets.search.sensors import ingested_documents_sensor
from glimpse_assets_tests.support.serve_process import index_sample_day, serve_process, warmed
from glimpse_assets_tests.support.stores import search_definitions, search_resources_at

pytestmark = pytest.mark.process

KEY = "search-test-key-0123456789"
DAY = "2026-03-01"
NEWS_IN_THE_INDEX = "Solar Bicycle Lanes Glow Soft Blue After Dark in the Town of Fernwick"


@pytest.fixture(scope="module")
def indexed_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("search") / "storage")
    index_sample_day(root, DAY)
    return root


@pytest.fixture(scope="module")
def service(indexed_root):
    with serve_process({"GLIMPSE_STORAGE_URI": indexed_root, "GLIMPSE_API_KEYS": KEY}) as served:
        yield warmed(served)  # the first search loads the index and the embedder


def search(service, **params):
    with service.client() as client:
        return client.get("/search", params=params)


def test_a_paraphrase_finds_its_article(service):
    response = search(service, q="cycle paths that light up at night", k=3)

    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "cycle paths that light up at night"
    assert body["results"][0]["title"] == NEWS_IN_THE_INDEX
    scores = [hit["score"] for hit in body["results"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == 3
    assert set(body["results"][0]) >= {"id", "document_id", "title", "url", "published", "text"}


def test_since_and_until_filter_by_published_day(service):
    assert search(service, q="comet", since=DAY, until=DAY).json()["results"]
    assert search(service, q="comet", since="2026-03-02").json()["results"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"q": ""},
        {"q": "   "},
        {"q": "x" * 1001},
        {"q": "comet", "k": 0},
        {"q": "comet", "k": 51},
        {"q": "comet", "since": "yesterday"},
        {"q": "comet", "since": "2026-03-05", "until": "2026-03-01"},
    ],
)
def test_bad_parameters_are_422_with_a_reason(service, params):
    response = search(service, **params)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_an_ingested_document_is_found_after_the_sensor_runs_the_chain(tmp_path):
    root = str(tmp_path / "storage")
    resources = search_resources_at(root)
    document = {
        "title": "Ferry timetable changes",
        "text": "From Monday the island ferry leaves every forty minutes instead of every hour.",
        "url": "https://example.org/ferry",
    }
    with (
        serve_process({"GLIMPSE_STORAGE_URI": root, "GLIMPSE_API_KEYS": KEY}) as service,
        service.client() as client,
    ):
        first = client.post("/documents", json=document)
        again = client.post("/documents", json=document)
        assert first.status_code == again.status_code == 202
        assert first.json()["id"] == again.json()["id"]
        assert (first.json()["status"], again.json()["status"]) == (
            "accepted",
            "already stored",
        )
        assert client.get("/search", params={"q": "ferry"}).json()["results"] == []

        with dg.instance_for_test() as instance:
            sensor_resources = {"object_store": resources["object_store"]}
            with dg.build_sensor_context(instance=instance, resources=sensor_resources) as context:
                (request,) = ingested_documents_sensor(context).run_requests
            defs = search_definitions(resources)
            run = defs.resolve_job_def("search_job").execute_in_process(
                partition_key=request.partition_key, instance=instance
            )
            assert run.success

        results = []
        for _ in range(50):  # the service sees a new index version within seconds
            results = client.get("/search", params={"q": "how often does the boat go?"})
            results = results.json()["results"]
            if results:
                break
            time.sleep(0.2)
        assert results and results[0]["title"] == "Ferry timetable changes"
        assert results[0]["url"] == "https://example.org/ferry"
    assert KEY not in service.output()


def test_two_services_read_one_index_on_s3(s3_bucket, s3_server):
    root = f"s3://{s3_bucket}/glimpse"
    index_sample_day(root, DAY)  # AWS_* point at the S3 server (the s3_client fixture)
    env = {"GLIMPSE_STORAGE_URI": root, "GLIMPSE_API_KEYS": KEY, **s3_server.env()}
    with serve_process(env) as first, serve_process(env) as second:
        for service in (warmed(first), warmed(second)):  # each loads the index from S3 first
            hits = search(service, q="cycle paths that light up at night", k=1).json()["results"]
            assert hits[0]["title"] == NEWS_IN_THE_INDEX
