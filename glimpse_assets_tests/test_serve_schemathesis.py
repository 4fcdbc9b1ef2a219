"""Requests generated from the service's own OpenAPI (schemathesis), valid and invalid, with a
valid API key: none may get a 5xx. The index is real: a day of the sample news run through the
search chain, so generated queries go through the embedder and LanceDB; and two days of stories,
so the activities routes read stored tables."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from glimpse_assets.serve.app import create_app
from glimpse_assets.serve.settings import ServeSettings
from glimpse_assets_tests.support.serve_process import index_sample_day, store_sample_stories

KEY = "schemathesis-key-4e8b1d7a"
MAX_EXAMPLES = 100  # per operation and mode


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    storage_uri = str(tmp_path_factory.mktemp("storage"))
    index_sample_day(storage_uri)
    store_sample_stories(storage_uri, ["2026-03-01", "2026-03-02"])
    env = {
        "GLIMPSE_STORAGE_URI": storage_uri,
        "GLIMPSE_API_KEYS": KEY,
        "GLIMPSE_RATE_LIMIT_PER_SECOND": "1000000",
        "GLIMPSE_RATE_LIMIT_BURST": "1000000",
    }
    app = create_app(ServeSettings.from_env(env), env=env)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # The key is sent with every call; generated (and invalid) keys would only test the 401.
    schema.config.generation.update(with_security_parameters=False)
    return schema


def operations(schema, mode: GenerationMode) -> list:
    """Every operation; for invalid requests, those that take an input to get wrong."""
    every = [result.ok() for result in schema.get_all_operations()]
    if mode.is_positive:
        return every
    return [op for op in every if len(op.query) or len(op.body) or len(op.path_parameters)]


# One plain test over every operation, with hypothesis run inside it: schemathesis'
# `pytest.from_fixture` (which would give one test per operation) fails under pytest 9.2
# (it sets `request.node._nodeid`, which pytest 9 no longer has).
@pytest.mark.parametrize("mode", list(GenerationMode))
@pytest.mark.slow
def test_no_generated_request_gets_a_server_error(api_schema, mode):
    checked = []
    for operation in operations(api_schema, mode):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def no_server_error(case):
            response = case.call(headers={"X-API-Key": KEY})
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} -> {response.status_code}: "
                f"{response.text[:500]}\n{case.as_curl_command()}"
            )

        no_server_error()
        checked.append(operation.label)
    assert {"GET /search", "POST /documents"} <= set(checked)


@pytest.mark.slow
def test_the_index_is_real(api_schema):
    """The generated searches above ran against rows, not an empty index."""
    from fastapi.testclient import TestClient

    client = TestClient(api_schema.app, headers={"X-API-Key": KEY})
    answer = client.get("/search", params={"q": "news of the day", "k": 3}).json()
    assert answer["index"] == "ready" and len(answer["results"]) == 3
