"""The search routes in process, on a fake backend: what they validate, return and refuse."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from glimpse_assets.search.inbox import MAX_DOCUMENT_BYTES, IngestedDocument, document_id
from glimpse_assets.serve.app import create_app
from glimpse_assets.serve.search_routes import StoredSearch, search_router
from glimpse_assets.serve.settings import ServeSettings
from glimpse_assets.storage.object_store import LocalObjectStore

KEY = "route-test-key-5a1f0c9e"
HIT = {
    "id": "chunk-1",
    "document_id": "doc-1",
    "title": "Harbour reopens",
    "url": "https://example.com/harbour",
    "published": "2026-03-02T08:00:00+00:00",
    "score": 0.83,
    "text": "The harbour reopened on Monday.",
    "source": "news",
}


class FakeBackend:
    def __init__(self, hits=None):
        self.hits = hits
        self.searches = []
        self.stored = {}

    def search(self, query, k, since, until):
        self.searches.append((query, k, since, until))
        return self.hits

    def ingest(self, document, received):
        identifier = document_id(document)
        new = identifier not in self.stored
        self.stored.setdefault(identifier, document)
        return identifier, new


def client_for(backend, tmp_path) -> TestClient:
    settings = ServeSettings.from_env({"GLIMPSE_API_KEYS": KEY})
    app = create_app(
        settings, env={"GLIMPSE_STORAGE_URI": str(tmp_path)}, routers=[search_router(backend)]
    )
    return TestClient(app, headers={"X-API-Key": KEY}, raise_server_exceptions=False)


def test_search_passes_the_query_on_and_returns_the_hits(tmp_path):
    backend = FakeBackend(hits=[HIT])
    response = client_for(backend, tmp_path).get(
        "/search", params={"q": " harbour ", "k": 7, "since": "2026-03-01", "until": "2026-03-02"}
    )
    assert response.status_code == 200
    assert response.json() == {"query": "harbour", "results": [HIT], "index": "ready"}
    assert backend.searches == [("harbour", 7, date(2026, 3, 1), date(2026, 3, 2))]


def test_search_on_no_index_is_empty_not_an_error(tmp_path):
    response = client_for(FakeBackend(hits=None), tmp_path).get("/search", params={"q": "x"})
    assert response.status_code == 200
    assert response.json() == {"query": "x", "results": [], "index": "empty"}


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({}, ["query", "q"]),
        ({"q": " \t "}, ["query", "q"]),
        ({"q": "x" * 1001}, ["query", "q"]),
        ({"q": "x", "k": 0}, ["query", "k"]),
        ({"q": "x", "k": 51}, ["query", "k"]),
        ({"q": "x", "since": "yesterday"}, ["query", "since"]),
        ({"q": "x", "since": "2026-03-02", "until": "2026-03-01"}, ["query", "since"]),
    ],
)
def test_search_refuses_bad_parameters_with_a_422_naming_them(tmp_path, params, where):
    backend = FakeBackend(hits=[])
    response = client_for(backend, tmp_path).get("/search", params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == where
    assert backend.searches == []


def test_a_document_is_accepted_once_then_already_stored(tmp_path):
    backend = FakeBackend()
    client = client_for(backend, tmp_path)
    body = {"title": "Harbour", "text": "It reopened.", "metadata": {"n": 1, "ok": True}}
    first = client.post("/documents", json=body)
    again = client.post("/documents", json=body)
    assert first.status_code == again.status_code == 202
    assert first.json()["status"] == "accepted" and again.json()["status"] == "already stored"
    assert first.json()["id"] == again.json()["id"] == document_id(IngestedDocument(**body))
    assert list(backend.stored) == [first.json()["id"]]


def test_a_text_over_the_limit_is_413(tmp_path):
    backend = FakeBackend()
    text = "é" * (MAX_DOCUMENT_BYTES // 2 + 1)  # under the limit in characters, over in bytes
    response = client_for(backend, tmp_path).post("/documents", json={"title": "t", "text": text})
    assert response.status_code == 413
    assert str(MAX_DOCUMENT_BYTES) in response.json()["detail"]
    assert backend.stored == {}


@pytest.mark.parametrize(
    "raw",
    [
        '{"title": "\\ud800", "text": "x"}',  # half a surrogate pair
        '{"title": "t", "text": "x", "metadata": {"a": NaN}}',
        '{"title": "t", "text": "x", "metadata": {"a": Infinity}}',
        '{"title": "t", "text": "x", "extra": 1}',
        '{"title": "", "text": "x"}',
        '{"title": "t", "text": "   "}',
        '{"title": "t"}',
        "[]",
        "{",
    ],
)
def test_a_document_that_cannot_be_stored_is_422(tmp_path, raw):
    backend = FakeBackend()
    response = client_for(backend, tmp_path).post(
        "/documents", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)
    assert backend.stored == {}


def test_a_crash_is_a_json_500_that_says_nothing_more(tmp_path):
    class Broken(FakeBackend):
        def search(self, query, k, since, until):
            raise RuntimeError("s3://bucket/secret-path unreachable")

    response = client_for(Broken(), tmp_path).get("/search", params={"q": "x"})
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error"}


def test_the_stored_backend_on_an_empty_root_finds_nothing_without_loading_a_model(tmp_path):
    class Embedder:
        index_table = "test_table_384"

        def embed_query(self, text):
            raise AssertionError("no query is embedded while nothing is indexed")

    backend = StoredSearch(str(tmp_path), Embedder(), LocalObjectStore(tmp_path))
    assert backend.search("anything", 5, None, None) is None


def test_the_stored_backend_writes_to_the_inbox(tmp_path):
    class Embedder:
        index_table = "test_table_384"

    store = LocalObjectStore(tmp_path)
    backend = StoredSearch(str(tmp_path), Embedder(), store)
    client = client_for(backend, tmp_path)
    response = client.post("/documents", json={"title": "Harbour", "text": "It reopened."})
    assert response.status_code == 202 and response.json()["status"] == "accepted"
    [key] = store.list("_inbox/documents")
    assert key.endswith(f"/{response.json()['id']}.json")
