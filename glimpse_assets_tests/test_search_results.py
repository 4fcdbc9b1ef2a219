"""What `/search` returns over a real index: never the same chunk twice (rows a race doubled),
never one article twice (the sample news reuses an article on two days under two ids: same url,
text and score), and `"index": "empty"` again, not a 500, when the index folder is gone."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient

from glimpse_assets.search.index import INDEX_FOLDER, connect, upsert_day
from glimpse_assets.search.reader import SearchIndex
from glimpse_assets.serve.app import create_app
from glimpse_assets.serve.search_routes import StoredSearch, search_router
from glimpse_assets.serve.settings import ServeSettings
from glimpse_assets.storage.object_store import LocalObjectStore
from glimpse_assets_tests.support.search import chunk_rows, text_vector
from glimpse_assets_tests.support.serve_process import index_sample_day, serve_process, warmed

KEY = "results-test-key-0123456789"
TABLE = "space"
DOCUMENTS = [
    ("doc-a", "https://news.example/clock", ["clock tower restored", "clock chimes again"]),
    ("doc-b", "https://news.example/orchid", ["rare orchid found"]),
    ("doc-c", None, ["harbour reopens"]),
]


class TextEmbedder:
    """Embeds a query as `chunk_rows` embeds a chunk: the same text, the same vector."""

    index_table = TABLE

    def embed_query(self, text: str):
        return text_vector(text)


def client_for(root: str) -> TestClient:
    settings = ServeSettings.from_env({"GLIMPSE_API_KEYS": KEY})
    backend = StoredSearch(root, TextEmbedder(), LocalObjectStore(root))
    app = create_app(settings, env={"GLIMPSE_STORAGE_URI": root}, routers=[search_router(backend)])
    return TestClient(app, headers={"X-API-Key": KEY}, raise_server_exceptions=False)


def test_rows_a_race_doubled_are_returned_once(tmp_path):
    root = str(tmp_path)
    day_rows = chunk_rows("2026-03-01", DOCUMENTS)
    upsert_day(root, TABLE, day_rows, "2026-03-01")
    connect(root).open_table(TABLE).add(day_rows)  # every chunk twice, as after a race

    hits = SearchIndex(root, TABLE).search(text_vector("clock tower restored"), k=3)

    ids = [hit["id"] for hit in hits]
    assert len(ids) == len(set(ids)) == 3
    assert hits[0]["text"] == "clock tower restored"


def test_one_article_under_two_ids_is_returned_once(tmp_path):
    root = str(tmp_path)
    upsert_day(root, TABLE, chunk_rows("2026-03-01", DOCUMENTS), "2026-03-01")
    reused = [("doc-a-again", "https://news.example/clock", ["clock tower restored"])]
    upsert_day(root, TABLE, chunk_rows("2026-03-02", reused), "2026-03-02")

    hits = SearchIndex(root, TABLE).search(text_vector("clock tower restored"), k=4)

    assert [hit["text"] for hit in hits][:1] == ["clock tower restored"]
    urls = [hit["url"] for hit in hits if hit["url"]]
    assert len(urls) == len(set(urls))
    assert len({hit["text"] for hit in hits}) == len(hits) == 3  # all there is, each once


def test_search_is_empty_again_when_the_index_folder_is_gone(tmp_path):
    root = str(tmp_path)
    upsert_day(root, TABLE, chunk_rows("2026-03-01", DOCUMENTS), "2026-03-01")
    with client_for(root) as client:
        first = client.get("/search", params={"q": "rare orchid found", "k": 1})
        assert first.status_code == 200 and first.json()["index"] == "ready"

        shutil.rmtree(tmp_path / INDEX_FOLDER)
        gone = client.get("/search", params={"q": "rare orchid found", "k": 1})
        assert (gone.status_code, gone.json()) == (
            200,
            {"query": "rare orchid found", "results": [], "index": "empty"},
        )

        upsert_day(root, TABLE, chunk_rows("2026-03-02", DOCUMENTS[1:2]), "2026-03-02")
        back = client.get("/search", params={"q": "rare orchid found", "k": 1}).json()
        assert back["index"] == "ready" and back["results"][0]["text"] == "rare orchid found"


@pytest.mark.process
def test_the_sample_news_reusing_an_article_on_two_days_is_one_result(tmp_path):
    root = str(tmp_path / "storage")
    for day in ("2026-03-01", "2026-03-02"):  # both draw the Marrowby clock, under two ids
        index_sample_day(root, day)
    env = {"GLIMPSE_STORAGE_URI": root, "GLIMPSE_API_KEYS": KEY}
    with serve_process(env) as service, warmed(service).client() as client:
        response = client.get("/search", params={"q": "Marrowby town clock chimes", "k": 5})
    hits = response.json()["results"]
    assert hits[0]["title"] == "Marrowby Town Clock Chimes Again After a Careful Restoration"
    assert len({hit["url"] for hit in hits}) == len({hit["text"] for hit in hits}) == len(hits)
    assert len(hits) == 5


def test_a_query_asked_again_is_embedded_once(tmp_path):
    root = str(tmp_path)
    upsert_day(root, TABLE, chunk_rows("2026-03-01", DOCUMENTS), "2026-03-01")
    embedded: list[str] = []

    class CountingEmbedder(TextEmbedder):
        def embed_query(self, text: str):
            embedded.append(text)
            return super().embed_query(text)

    backend = StoredSearch(root, CountingEmbedder(), LocalObjectStore(root))
    first = backend.search("clock tower restored", 3, None, None)
    again = backend.search("clock tower restored", 3, None, None)
    other = backend.search("rare orchid found", 3, None, None)

    assert embedded == ["clock tower restored", "rare orchid found"]
    assert [hit["id"] for hit in again] == [hit["id"] for hit in first]
    assert first[0]["text"] == "clock tower restored" and other[0]["text"] == "rare orchid found"
