"""Currents and RSS error texts are redacted: an API that echoes the key, or a feed URL with
credentials, never puts a secret in an error message (issue 11). Outside services are local
HTTP doubles that echo what they were sent."""

from __future__ import annotations

import base64
from datetime import date

import pytest
import requests

from glimpse_assets.http import error_message
from glimpse_assets.llm.guardrails import redact_url, url_secrets
from glimpse_assets.news.sources import CurrentsNewsSource, NewsSourceError, RssNewsSource
from glimpse_assets_tests.support.http_doubles import LocalHTTPServer, Reply, Request

DAY = date(2026, 3, 2)
API_KEY = "cur-key-7f3a9b"
USER, PASSWORD = "reader", "feed-pass-123"
TOKEN = "tok-secret-456"
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def echo(status: int, *, as_json: bool = True, content_type: str = "application/json"):
    """A handler answering `status` with everything it was sent: headers, path and query."""

    def handler(request: Request) -> Reply:
        seen = (
            f"rejected {request.path}?{'&'.join(f'{k}={v}' for k, v in request.query.items())} "
            f"with Authorization: {request.headers.get('authorization')}"
        )
        if as_json:
            return Reply.json({"status": "error", "message": seen}, status=status)
        return Reply(status, seen, {"Content-Type": content_type})

    return handler


def secrets_in(message: str) -> list[str]:
    return [s for s in (API_KEY, PASSWORD, TOKEN, BASIC) if s in message]


def currents(server: LocalHTTPServer, **settings) -> CurrentsNewsSource:
    defaults = {"api_key": API_KEY, "base_url": server.url, "max_retries": 0}
    return CurrentsNewsSource(**{**defaults, **settings})


def with_credentials(url: str, path: str) -> str:
    scheme, _, host = url.partition("://")
    return f"{scheme}://{USER}:{PASSWORD}@{host}{path}?token={TOKEN}&format=rss"


# -- Currents -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403, 400, 500])
def test_currents_error_echoing_the_key_is_redacted(status):
    with LocalHTTPServer(echo(status)) as server, pytest.raises(NewsSourceError) as raised:
        currents(server).fetch_day(DAY)

    message = str(raised.value)
    assert f"HTTP {status}" in message
    assert "with Authorization: ***" in message
    assert secrets_in(message) == []


def test_currents_text_error_body_echoing_the_key_is_redacted():
    handler = echo(502, as_json=False, content_type="text/plain")
    with LocalHTTPServer(handler) as server, pytest.raises(NewsSourceError) as raised:
        currents(server).fetch_day(DAY)

    assert "HTTP 502" in str(raised.value)
    assert secrets_in(str(raised.value)) == []


def test_currents_malformed_json_echoing_the_key_is_redacted():
    def handler(request: Request) -> Reply:
        body = f"<html>proxy saw key {request.headers['authorization']}</html>"
        return Reply(200, body, {"Content-Type": "application/json"})

    with LocalHTTPServer(handler) as server, pytest.raises(NewsSourceError) as raised:
        currents(server).fetch_day(DAY)

    assert "malformed JSON" in str(raised.value) and "proxy saw key ***" in str(raised.value)
    assert secrets_in(str(raised.value)) == []


def test_currents_error_status_in_a_200_body_echoing_the_key_is_redacted():
    def handler(request: Request) -> Reply:
        key = request.headers["authorization"]
        return Reply.json({"status": "error", "message": f"key {key} is over its quota"})

    with LocalHTTPServer(handler) as server, pytest.raises(NewsSourceError) as raised:
        currents(server).fetch_day(DAY)

    assert "key *** is over its quota" in str(raised.value)
    assert secrets_in(str(raised.value)) == []


def test_currents_unreachable_base_url_with_credentials_is_redacted():
    with LocalHTTPServer(echo(200)) as server:
        url = server.url
    base_url = with_credentials(url, "")

    with pytest.raises(NewsSourceError, match="Currents API unreachable") as raised:
        CurrentsNewsSource(api_key=API_KEY, base_url=base_url, max_retries=0).fetch_day(DAY)

    message = str(raised.value)
    assert secrets_in(message) == []
    assert url.partition("://")[2] in message  # the host and port are still named


# -- RSS -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403, 404, 500])
def test_rss_error_echoing_credentials_of_the_feed_url_is_redacted(status):
    handler = echo(status, as_json=False, content_type="text/plain")
    with LocalHTTPServer(handler) as server, pytest.raises(NewsSourceError) as raised:
        url = with_credentials(server.url, "/private.xml")
        RssNewsSource(feed_urls=[url], max_retries=0).fetch_day(DAY)

    message = str(raised.value)
    assert secrets_in(message) == []
    host = server.url.partition("://")[2]
    assert f"feed http://***@{host}/private.xml?token=***&format=rss returned HTTP {status}" in (
        message
    )
    assert "with Authorization: ***" in message  # the echo is there, redacted


def test_rss_unreachable_feed_with_credentials_is_redacted():
    with LocalHTTPServer(echo(200)) as server:
        url = with_credentials(server.url, "/private.xml")

    with pytest.raises(NewsSourceError, match="unreachable") as raised:
        RssNewsSource(feed_urls=[url], max_retries=0).fetch_day(DAY)

    message = str(raised.value)
    assert secrets_in(message) == []
    assert USER not in message  # the user info is left out as a whole


def test_rss_page_that_is_not_a_feed_at_a_url_with_credentials_is_redacted():
    def page(request: Request) -> Reply:
        return Reply(200, "<html><body>Sign in</body></html>", {"Content-Type": "text/html"})

    with LocalHTTPServer(page) as server, pytest.raises(NewsSourceError) as raised:
        url = with_credentials(server.url, "/private.xml")
        RssNewsSource(feed_urls=[url], max_retries=0).fetch_day(DAY)

    assert "is not valid RSS or Atom" in str(raised.value)
    assert secrets_in(str(raised.value)) == []


# -- the shared helpers ------------------------------------------------------------------------


def test_error_message_redacts_the_requests_own_credentials():
    def handler(request: Request) -> Reply:
        return Reply.json({"error": {"message": f"bad key {request.headers['x-api-key']}"}}, 400)

    with LocalHTTPServer(handler) as server:
        response = requests.get(server.url + "/v1", headers={"X-Api-Key": API_KEY}, timeout=5)

    assert error_message(response) == "bad key ***"


def test_error_message_is_redacted_before_it_is_cut():
    def handler(request: Request) -> Reply:
        return Reply(400, "x" * 8 + API_KEY, {"Content-Type": "text/plain"})

    with LocalHTTPServer(handler) as server:
        response = requests.get(server.url, timeout=5)

    cut = error_message(response, limit=12, secrets=[API_KEY])
    assert cut == "xxxxxxxx***"
    assert API_KEY[:4] not in cut


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://u:p%40ss@feeds.example/a.xml", "https://***@feeds.example/a.xml"),
        (
            "https://feeds.example/a?api_key=k1&lang=en",
            "https://feeds.example/a?api_key=***&lang=en",
        ),
        (
            "https://feeds.example/a?sig=s&X-Amz-Signature=z",
            "https://feeds.example/a?sig=***&X-Amz-Signature=***",
        ),
        ("https://feeds.example/a?category=tech", "https://feeds.example/a?category=tech"),
    ],
)
def test_redact_url_hides_user_info_and_credential_values(url, shown):
    assert redact_url(url) == shown


def test_url_secrets_include_the_basic_auth_token_a_client_sends():
    secrets = url_secrets("https://us%40er:p%40ss@feeds.example/a.xml?access_token=t0k3n")
    assert "p@ss" in secrets and "p%40ss" in secrets and "t0k3n" in secrets
    assert base64.b64encode(b"us@er:p@ss").decode() in secrets
