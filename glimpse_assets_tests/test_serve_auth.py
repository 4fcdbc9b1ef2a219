"""`glimpse serve` as a real process, driven with httpx: API keys, the rate limit, refusing to
start without keys, `--no-auth`, the OpenAPI pages, body limits, and no key in its output; in
process, the app factory's refusal and the settings' repr."""

from __future__ import annotations

import pytest

from glimpse_assets.serve.app import create_app
from glimpse_assets.serve.settings import ServeSettings
from glimpse_assets.settings import ConfigurationError
from glimpse_assets_tests.support.serve_process import run_glimpse, serve_process, warmed

KEY_A = "test-key-alpha-7c41d9e2b05f"
KEY_B = "test-key-bravo-93ab60f1c8d2"
WRONG = "test-key-wrong-000000000000"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    env = {
        "GLIMPSE_STORAGE_URI": str(tmp_path_factory.mktemp("storage")),
        "GLIMPSE_API_KEYS": f"{KEY_A}, {KEY_B}",
    }
    with serve_process(env) as running:
        yield warmed(running)
    for key in (KEY_A, KEY_B, WRONG):
        assert key not in running.output()


@pytest.mark.process
def test_healthz_needs_no_key(service):
    with service.client(api_key=None) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "version": response.json()["version"],
        "storage": "local",
        "storage_status": "ok",
        "auth": "api key",
    }


@pytest.mark.parametrize("key", [None, WRONG, "", KEY_A[:-1], KEY_A + "x"])
@pytest.mark.process
def test_search_without_the_right_key_is_401(service, key):
    headers = {} if key is None else {"X-API-Key": key}
    with service.client(api_key=None) as client:
        response = client.get("/search", params={"q": "storm"}, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": "missing or invalid API key"}
    assert response.headers["WWW-Authenticate"] == "ApiKey"


@pytest.mark.process
def test_unauthenticated_requests_learn_nothing_about_validation(service):
    with service.client(api_key=None) as client:
        assert client.get("/search").status_code == 401  # not 422: q is missing
        assert client.post("/documents", json={}).status_code == 401


@pytest.mark.parametrize("key", [KEY_A, KEY_B])
@pytest.mark.process
def test_search_with_a_configured_key_answers(service, key):
    with service.client(api_key=key) as client:
        response = client.get("/search", params={"q": "  harbour storm  ", "k": 3})
    assert response.status_code == 200
    assert response.json() == {"query": "harbour storm", "results": [], "index": "empty"}


@pytest.mark.process
def test_docs_and_openapi_are_served(service):
    with service.client(api_key=None) as client:
        docs = client.get("/docs")
        spec = client.get("/openapi.json")
    assert docs.status_code == 200 and "swagger-ui" in docs.text.lower()
    assert spec.status_code == 200
    schema = spec.json()
    assert {"/healthz", "/search", "/documents"} <= set(schema["paths"])
    search = schema["paths"]["/search"]["get"]
    assert {"200", "401", "422", "429"} <= set(search["responses"])
    assert search["security"] == [{"ApiKey": []}]
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": schema["components"]["securitySchemes"]["ApiKey"]["description"],
    }
    assert "security" not in schema["paths"]["/healthz"]["get"]


@pytest.mark.process
def test_errors_are_json(service):
    with service.client() as client:
        missing = client.get("/nothing-here")
        blank = client.get("/search", params={"q": "   "})
        days = client.get(
            "/search", params={"q": "x", "since": "2026-02-02", "until": "2026-02-01"}
        )
        too_many = client.get("/search", params={"q": "x", "k": 51})
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
    assert blank.status_code == 422 and blank.json()["detail"][0]["loc"] == ["query", "q"]
    assert days.status_code == 422  # the dates sent are not repeated
    assert days.json()["detail"] == [
        {"type": "value_error", "loc": ["query", "since"], "msg": "Value error"}
    ]
    assert too_many.status_code == 422 and too_many.json()["detail"][0]["loc"] == ["query", "k"]


@pytest.mark.process
def test_a_body_over_the_limit_is_refused_before_it_is_read(service):
    big = b'{"title": "t", "text": "' + b"x" * 3_000_000 + b'"}'

    def chunks():
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    with service.client() as client:
        declared = client.post(
            "/documents", content=big, headers={"Content-Type": "application/json"}
        )
        streamed = client.post(
            "/documents", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert declared.status_code == 413
    assert "at most 2100000" in declared.json()["detail"]
    assert streamed.status_code == 413  # sent chunked, without a Content-Length
    assert streamed.json() == {"detail": "Content Too Large"}


@pytest.mark.process
def test_past_the_burst_a_key_gets_429_with_retry_after(tmp_path):
    # 0.01 tokens a second: none comes back during the test, however slow the machine.
    env = {
        "GLIMPSE_STORAGE_URI": str(tmp_path),
        "GLIMPSE_API_KEYS": f"{KEY_A},{KEY_B}",
        "GLIMPSE_RATE_LIMIT_PER_SECOND": "0.01",
        "GLIMPSE_RATE_LIMIT_BURST": "3",
    }
    with serve_process(env) as service:
        with service.client(api_key=KEY_A) as client:
            answers = [client.get("/search", params={"q": "storm"}) for _ in range(5)]
        with service.client(api_key=KEY_B) as other, service.client(api_key=None) as anyone:
            other_key = other.get("/search", params={"q": "storm"})
            health = anyone.get("/healthz")
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429, 429]
    refused = answers[3]
    assert int(refused.headers["Retry-After"]) >= 1
    assert "rate limit exceeded" in refused.json()["detail"]
    assert other_key.status_code == 200  # each key has its own bucket
    assert health.status_code == 200  # the health check is not limited
    assert KEY_A not in service.output() and KEY_B not in service.output()


@pytest.mark.process
def test_without_keys_it_refuses_to_start(tmp_path):
    result = run_glimpse(["serve"], {"GLIMPSE_STORAGE_URI": str(tmp_path)})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "GLIMPSE_API_KEYS" in lines[0] and "--no-auth" in lines[0]


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"GLIMPSE_RATE_LIMIT_BURST": "0"}, "GLIMPSE_RATE_LIMIT_BURST"),
        ({"GLIMPSE_RATE_LIMIT_PER_SECOND": "fast"}, "GLIMPSE_RATE_LIMIT_PER_SECOND"),
        ({"GLIMPSE_STORAGE_URI": "ftp://somewhere"}, "GLIMPSE_STORAGE_URI"),
        ({"GLIMPSE_API_KEYS": f"{KEY_A},short-key"}, "GLIMPSE_API_KEYS"),
    ],
)
@pytest.mark.process
def test_a_bad_setting_is_one_line_and_exit_2(tmp_path, env, named):
    result = run_glimpse(
        ["serve"], {"GLIMPSE_STORAGE_URI": str(tmp_path), "GLIMPSE_API_KEYS": KEY_A, **env}
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0]
    assert KEY_A not in result.stderr + result.stdout
    assert "short-key" not in result.stderr + result.stdout


NOT_ASCII = "clé-de-test-non-ascii-4f2a"


@pytest.mark.process
def test_a_key_that_is_not_ascii_is_refused_at_start_up(tmp_path):
    """A header arrives decoded as latin-1, so such a key could never match: it was accepted and
    the service ran with a key nobody could use."""
    result = run_glimpse(
        ["serve"],
        {"GLIMPSE_STORAGE_URI": str(tmp_path), "GLIMPSE_API_KEYS": f"{KEY_A},{NOT_ASCII}"},
        timeout=30,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "GLIMPSE_API_KEYS" in lines[0] and "ASCII" in lines[0]
    output = result.stderr + result.stdout
    assert NOT_ASCII not in output and "clé" not in output and KEY_A not in output


@pytest.mark.parametrize("key", [NOT_ASCII, "key-with-a-tab\there-0123", "ключ-доступа-0123456789"])
def test_settings_refuse_a_key_a_header_cannot_carry(key):
    with pytest.raises(ConfigurationError, match="GLIMPSE_API_KEYS") as refused:
        ServeSettings.from_env({"GLIMPSE_API_KEYS": f"{KEY_A},{key}"})
    assert key not in str(refused.value) and KEY_A not in str(refused.value)
    assert "1 of 2 keys" in str(refused.value)


@pytest.mark.process
def test_no_auth_starts_warns_and_opens_every_route(tmp_path):
    with serve_process({"GLIMPSE_STORAGE_URI": str(tmp_path)}, "--no-auth") as service:
        with service.client(api_key=None) as client:
            search = client.get("/search", params={"q": "storm"})
            health = client.get("/healthz")
            spec = client.get("/openapi.json").json()
        output = service.output()
    assert search.status_code == 200
    assert health.json()["auth"] == "off"
    assert "401" not in spec["paths"]["/search"]["get"]["responses"]
    warnings = [line for line in output.splitlines() if "--no-auth" in line]
    assert len(warnings) == 1 and "every route is open" in warnings[0]


def test_the_app_itself_refuses_no_keys_unless_told_every_route_is_open(tmp_path):
    env = {"GLIMPSE_STORAGE_URI": str(tmp_path)}
    with pytest.raises(ValueError, match="no API keys"):
        create_app(ServeSettings.from_env(env), env=env, routers=[])
    assert create_app(ServeSettings.from_env(env), env=env, routers=[], no_auth=True)


def test_settings_never_show_the_keys():
    settings = ServeSettings.from_env({"GLIMPSE_API_KEYS": f"{KEY_A},{KEY_B}"})
    assert settings.api_keys == [KEY_A, KEY_B]
    for shown in (repr(settings), str(settings), f"{settings}"):
        assert KEY_A not in shown and KEY_B not in shown and "2 keys" in shown
