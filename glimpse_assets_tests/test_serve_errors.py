"""422 answers name where the problem is and what kind it is, never what was sent: not the value,
not a dict key or unknown field name that came in the body (a phone number, or 1.9 MB of it)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from glimpse_assets.serve.app import create_app
from glimpse_assets.serve.search_routes import search_router
from glimpse_assets.serve.settings import ServeSettings

KEY = "errors-test-key-0b7d41e9c2"
PHONE = "+15551234567"


class NoBackend:
    def search(self, query, k, since, until):
        return None

    def ingest(self, document, received):
        return "doc-0", True


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> TestClient:
    env = {"GLIMPSE_STORAGE_URI": str(tmp_path_factory.mktemp("storage"))}
    app = create_app(
        ServeSettings.from_env({"GLIMPSE_API_KEYS": KEY}),
        env=env,
        routers=[search_router(NoBackend())],
    )
    return TestClient(app, headers={"X-API-Key": KEY})


def post(client: TestClient, body: dict):
    return client.post(
        "/documents", content=json.dumps(body), headers={"Content-Type": "application/json"}
    )


def test_a_metadata_key_is_not_repeated(client):
    response = post(client, {"title": "t", "text": "x", "metadata": {PHONE: [1]}})
    assert response.status_code == 422
    assert "5551234567" not in response.text
    errors = response.json()["detail"]
    assert {tuple(error["loc"]) for error in errors} == {
        ("body", "metadata", "*", kind) for kind in ("str", "int", "float", "bool")
    }
    assert all(set(error) == {"type", "loc", "msg"} for error in errors)


def test_a_huge_key_gets_a_small_answer(client):
    key = "k" * 1_900_000
    response = post(client, {"title": "t", "text": "x", "metadata": {key: 1}})
    assert response.status_code == 422
    assert len(response.content) < 1_000  # was 1,900,135 bytes: the key, sent back
    assert response.json()["detail"] == [
        {
            "type": "string_too_long",
            "loc": ["body", "metadata", "*", "[key]"],
            "msg": "String should have at most 100 characters",
        }
    ]


def test_an_unknown_field_name_is_not_repeated(client):
    response = post(client, {"title": "t", "text": "x", PHONE: 1})
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"type": "extra_forbidden", "loc": ["body", "*"], "msg": "Extra inputs are not permitted"}
    ]


def test_a_rule_s_message_does_not_quote_the_values(client):
    days = client.get("/search", params={"q": "x", "since": "2026-02-02", "until": "2026-02-01"})
    number = post(client, {"title": "t", "text": "x", "metadata": {"a": float("nan")}})
    for response in (days, number):
        assert response.status_code == 422
        assert "2026-02-0" not in response.text and "nan" not in response.text.lower()
    assert days.json()["detail"] == [
        {"type": "value_error", "loc": ["query", "since"], "msg": "Value error"}
    ]


@pytest.mark.parametrize(
    ("params", "error"),
    [
        (
            {"q": "x", "k": "51"},
            {
                "type": "less_than_equal",
                "loc": ["query", "k"],
                "msg": "Input should be less than or equal to 50",
            },
        ),
        (
            {"q": "x", "k": f"{PHONE}x"},
            {
                "type": "int_parsing",
                "loc": ["query", "k"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
            },
        ),
        (
            {"q": "x", "since": f"2026-13-01{PHONE}"},
            {
                "type": "date_from_datetime_parsing",
                "loc": ["query", "since"],
                "msg": "Input should be a valid date or datetime",
            },
        ),
        ({}, {"type": "missing", "loc": ["query", "q"], "msg": "Field required"}),
    ],
)
def test_the_kind_of_problem_is_still_said(client, params, error):
    response = client.get("/search", params=params)
    assert response.status_code == 422
    assert response.json()["detail"] == [error]
    assert "5551234567" not in response.text


def test_invalid_json_says_where_not_what(client):
    response = client.post(
        "/documents",
        content=b'{"title": "' + PHONE.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert "5551234567" not in response.text
    [error] = response.json()["detail"]
    assert error["type"] == "json_invalid" and error["loc"][0] == "body"
