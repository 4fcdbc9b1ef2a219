"""`glimpse serve` as a real process over a real index: 16 clients searching at once (the first
queries load the model while others wait on it) are all answered, with hits. A search that cannot
be answered within the service's bound is 503 with `Retry-After` (on a loaded machine the cold
start can take that long); a client does what that asks, once or twice, as a real one would."""

from __future__ import annotations

import threading
import time

import pytest

from glimpse_assets_tests.support.serve_process import index_sample_day, serve_process

pytestmark = pytest.mark.process

KEY = "concurrency-key-61c0e5b2a9"
CLIENTS = 16
RETRIES = 3  # after a 503 with Retry-After
QUERIES = ["storm damage on the coast", "election results", "new medicine trial", "football"]


def test_sixteen_clients_at_once_are_all_served(tmp_path):
    storage_uri = str(tmp_path / "storage")
    index_sample_day(storage_uri)
    env = {"GLIMPSE_STORAGE_URI": storage_uri, "GLIMPSE_API_KEYS": KEY}
    answers: list[tuple[int, dict]] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    with serve_process(env) as service:

        def client_searches(number: int) -> None:
            with service.client() as client:
                start.wait()
                for query in QUERIES[number % 2 :: 2]:
                    response = client.get("/search", params={"q": query, "k": 3})
                    for _ in range(RETRIES):
                        if response.status_code != 503:
                            break
                        assert "Retry-After" in response.headers
                        time.sleep(1)
                        response = client.get("/search", params={"q": query, "k": 3})
                    with lock:
                        answers.append((response.status_code, response.json()))

        threads = [threading.Thread(target=client_searches, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        output = service.output()

    assert len(answers) == CLIENTS * 2
    assert all(status == 200 for status, _ in answers), answers
    assert all(body["index"] == "ready" and len(body["results"]) == 3 for _, body in answers)
    scores = [[hit["score"] for hit in body["results"]] for _, body in answers]
    assert all(row == sorted(row, reverse=True) for row in scores)  # best first
    assert "Traceback" not in output and KEY not in output
