"""`glimpse serve --workers 2` as a real process over a real index: two worker processes answer,
each search the same as one worker gives, and the per-key rate limit holds on a connection (it is
per worker: one connection stays on one); a bad `--workers` is one line and exit status 2."""

from __future__ import annotations

import re

import pytest

from glimpse_assets_tests.support.serve_process import (
    index_sample_day,
    run_glimpse,
    serve_process,
    warmed,
)

pytestmark = pytest.mark.process

KEY = "workers-test-key-5d1f0c2b"
QUERY = {"q": "cycle paths that light up at night", "k": 3}


@pytest.mark.slow
def test_two_workers_answer_searches_alike_and_limit_each_connection(tmp_path):
    storage_uri = str(tmp_path / "storage")
    index_sample_day(storage_uri)
    env = {
        "GLIMPSE_STORAGE_URI": storage_uri,
        "GLIMPSE_API_KEYS": KEY,
        "GLIMPSE_RATE_LIMIT_PER_SECOND": "0.01",  # no token comes back during the test
        "GLIMPSE_RATE_LIMIT_BURST": "3",
    }
    with serve_process(env, "--workers", "2") as service:
        warmed(service)
        answers = []
        for _ in range(2):  # a new connection each: the kernel hands them to either worker
            with service.client() as client:
                answers.append(client.get("/search", params=QUERY))
        with service.client() as one_connection:
            limited = [one_connection.get("/search", params=QUERY) for _ in range(4)]
        output = service.output()

    assert [answer.status_code for answer in answers] == [200, 200]
    first = answers[0].json()
    assert first["index"] == "ready" and len(first["results"]) == 3
    assert answers[1].json() == first
    assert [answer.status_code for answer in limited][-1] == 429
    assert "rate limit exceeded" in limited[-1].json()["detail"]
    assert "2 worker processes" in output
    assert len(set(re.findall(r"Started server process \[(\d+)\]", output))) == 2
    assert "Traceback" not in output and KEY not in output


@pytest.mark.parametrize("workers", ["0", "two"])
def test_a_bad_number_of_workers_is_one_line_and_exit_2(tmp_path, workers):
    env = {"GLIMPSE_STORAGE_URI": str(tmp_path), "GLIMPSE_API_KEYS": KEY}
    done = run_glimpse(["serve", "--workers", workers], env)

    assert done.returncode == 2
    assert done.stderr.startswith("usage: glimpse serve")
    last_line = done.stderr.strip().splitlines()[-1]
    assert last_line.startswith("glimpse serve: error: argument --workers")
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_auth_off_is_the_setting_every_worker_reads(tmp_path):
    """`GLIMPSE_SERVE_AUTH=off` is `--no-auth` (with its warning), and it reaches the workers:
    no key, and every new connection (either worker) is answered."""
    storage_uri = str(tmp_path / "storage")
    index_sample_day(storage_uri)
    env = {"GLIMPSE_STORAGE_URI": storage_uri, "GLIMPSE_SERVE_AUTH": "off"}
    with serve_process(env, "--workers", "2") as service:
        warmed(service, api_key=None)
        statuses = []
        for _ in range(6):  # a new connection each: the kernel hands them to either worker
            with service.client(api_key=None) as client:
                statuses.append(client.get("/search", params=QUERY).status_code)
        output = service.output()

    assert statuses == [200] * 6
    assert "WARNING: --no-auth: every route is open" in output
    assert len(set(re.findall(r"Started server process \[(\d+)\]", output))) == 2
