"""`GET /search` with the index on a stalled S3 (a SeaweedFS of its own, SIGSTOPped): the service
answers 503 within seconds instead of hanging, and searches again once S3 is back; with S3 gone
(killed), 503 too, not a 500."""

from __future__ import annotations

import contextlib
import os
import signal
import time

import pytest

from glimpse_assets.providers.minilm_embedder import MiniLMEmbedder
from glimpse_assets.search.index import upsert_day
from glimpse_assets_tests.support.search import chunk_rows
from glimpse_assets_tests.support.seaweedfs import SeaweedFS
from glimpse_assets_tests.support.serve_process import serve_process

pytestmark = pytest.mark.process

KEY = "stalled-test-key-0123456789"
ANSWER_WITHIN = 10.0  # seconds: "within a few seconds", generously
DOCUMENTS = [("doc-a", "https://news.example/orchid", ["A rare blue orchid found in a gorge."])]


@pytest.fixture
def stalled_s3(tmp_path, monkeypatch):
    """A SeaweedFS with a day indexed on it, and a way to freeze it (SIGSTOP) and thaw it."""
    with SeaweedFS(tmp_path / "weed", "stall-tests", "stall-tests-secret") as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        server.client().create_bucket(Bucket="stall")
        root = "s3://stall/glimpse"
        rows = chunk_rows("2026-03-01", DOCUMENTS)
        upsert_day(root, MiniLMEmbedder().index_table, rows, "2026-03-01")
        group = server._process.pid  # its own process group (start_new_session)
        try:
            yield root, server, lambda sig: os.killpg(group, sig)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGCONT)


def test_search_answers_503_within_seconds_while_s3_is_stalled(stalled_s3):
    root, server, send = stalled_s3
    env = {"GLIMPSE_STORAGE_URI": root, "GLIMPSE_API_KEYS": KEY, **server.env()}
    query = {"q": "where was the orchid found?", "k": 1}
    with serve_process(env) as service, service.client() as client:
        assert client.get("/search", params=query).json()["index"] == "ready"

        send(signal.SIGSTOP)
        time.sleep(3)  # past the index's read consistency: the next search asks S3
        started = time.monotonic()
        stalled = client.get("/search", params=query, timeout=60)
        seconds = time.monotonic() - started
        send(signal.SIGCONT)

        assert stalled.status_code == 503, stalled.text
        assert seconds < ANSWER_WITHIN, f"503 after {seconds:.1f} s"
        assert "s3://" not in stalled.text and "stall" not in stalled.json()["detail"]
        for _ in range(60):  # S3 is back: searching works again without a restart
            again = client.get("/search", params=query)
            if again.status_code == 200:
                break
            time.sleep(0.5)
        assert again.json()["results"][0]["url"] == "https://news.example/orchid"

        server.stop()  # S3 gone: refused at once
        started = time.monotonic()
        gone = client.get("/search", params=query, timeout=60)
        assert (gone.status_code, gone.json()["detail"]) == (503, stalled.json()["detail"])
        assert time.monotonic() - started < ANSWER_WITHIN
