"""The API pages work offline: `/docs` (Swagger UI) and `/redoc` (ReDoc) with their JavaScript,
CSS and icon served by `glimpse serve` itself, from the `fastapi-offline` package's files; in
Debian's chromium with every request to another host blocked, both render every operation of
`/openapi.json`, and Swagger UI's Authorize and "Try it out" reach `/search` with a key.

The key decision, as behaviour: the pages, `/openapi.json` and the assets need no key (a wrong
one is ignored, not refused) and are outside the keys' rate limit, like `/healthz`; every
operation the schema marks with the `ApiKey` scheme refuses a request without one, and every
operation it does not mark is `/healthz` or a Twilio webhook.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from glimpse_assets.serve.api_docs import (
    ASSETS_URL,
    FAVICON,
    REDOC_JS,
    SWAGGER_CSS,
    SWAGGER_JS,
    assets_folder,
)
from glimpse_assets.serve.app import create_app
from glimpse_assets.serve.settings import ServeSettings
from glimpse_assets_tests.support.chromium import launched_chromium, needs_chromium
from glimpse_assets_tests.support.serve_process import serve_process, warmed

KEY = "docs-test-key-5a0e3c9b71d4"
WRONG = "docs-test-key-wrong-000000"
PAGES = ["/docs", "/redoc"]
ASSETS = [f"{ASSETS_URL}/{name}" for name in (SWAGGER_JS, SWAGGER_CSS, REDOC_JS, FAVICON)]
PUBLIC = [*PAGES, "/openapi.json", *ASSETS]
LOADS = {"/docs": [FAVICON, SWAGGER_JS, SWAGGER_CSS], "/redoc": [FAVICON, REDOC_JS]}
CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "json"}

# ReDoc's side menu asks a CDN for Redocly's logo; the pages' Content-Security-Policy refuses
# it in the browser (before any request), and the menu shows "API docs by Redocly" without it.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    env = {
        "GLIMPSE_STORAGE_URI": str(tmp_path_factory.mktemp("storage")),
        "GLIMPSE_API_KEYS": KEY,
    }
    with serve_process(env) as running:
        yield warmed(running)


def operations(schema: dict) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "put", "post", "delete", "patch", "head", "options"}
    }


class References(HTMLParser):
    """Every URL an HTML page loads: `src` and `href` of its elements, ReDoc's `spec-url`."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in {"src", "href", "spec-url"} and value:
                self.urls.append(value)


def references(html: str) -> list[str]:
    parser = References()
    parser.feed(html)
    # Swagger UI is started by an inline script: `SwaggerUIBundle({url: '/openapi.json', ...`.
    return parser.urls + re.findall(r"\burl: '([^']*)'", html)


# (a) Every page and asset from the service itself


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.process
def test_a_page_and_everything_it_loads_come_from_the_service(service, page):
    with service.client(api_key=None) as client:
        response = client.get(page)
        assert response.status_code == 200
        html = response.text
        # No absolute or scheme-relative URL at all: nothing on another host, not even a link.
        assert re.findall(r"(?i)(?:https?:)?//[^\s'\"<>]*", html) == []
        urls = references(html)
        assert sorted(urls) == sorted(
            ["/openapi.json", *(f"{ASSETS_URL}/{n}" for n in LOADS[page])]
        )
        for url in urls:
            absolute = urljoin(f"{service.url}{page}", url)
            assert urlsplit(absolute).netloc == urlsplit(service.url).netloc
            loaded = client.get(absolute)
            assert loaded.status_code == 200, url
            kind = CONTENT_TYPES[Path(urlsplit(absolute).path).suffix]
            assert kind in loaded.headers["content-type"], (url, loaded.headers["content-type"])
            if url.startswith(ASSETS_URL):  # the package's own bytes, as installed
                name = url.removeprefix(f"{ASSETS_URL}/")
                assert loaded.content == (assets_folder() / name).read_bytes(), name
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "img-src 'self' data:" in policy
    assert "http" not in policy and "*" not in policy


@pytest.mark.process
def test_the_assets_are_from_the_package_and_the_old_cdn_pages_are_gone(service):
    folder = assets_folder()
    assert folder.parts[-2:] == ("fastapi_offline", "static")
    assert (folder / SWAGGER_JS).stat().st_size > 1_000_000  # the whole bundle, not a stub
    assert (folder / REDOC_JS).stat().st_size > 500_000
    with service.client(api_key=None) as client:
        # FastAPI's OAuth2 redirect page (no OAuth2 here), and nothing outside the folder.
        assert client.get("/docs/oauth2-redirect").status_code == 404
        assert client.get(f"{ASSETS_URL}/../core.py").status_code == 404
        assert client.get(f"{ASSETS_URL}/%2e%2e/core.py").status_code == 404
        assert client.head("/docs").status_code == 200


# (b) In Chromium, with no network but the service


@pytest.fixture(scope="module")
def browser():
    with launched_chromium() as browser:
        yield browser


@dataclass
class OfflinePage:
    """A page whose every request to anything but the service is aborted (and listed)."""

    page: object
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # uncaught errors and console errors


@pytest.fixture
def offline(browser, service):
    context = browser.new_context()
    here = urlsplit(service.url)
    recorded = OfflinePage(page=None)

    def only_the_service(route):
        url = urlsplit(route.request.url)
        if (url.scheme, url.hostname, url.port) == (here.scheme, "127.0.0.1", here.port):
            route.continue_()
        else:
            recorded.blocked.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_service)
    page = context.new_page()
    page.on("pageerror", lambda error: recorded.errors.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: recorded.errors.append(message.text) if message.type == "error" else None,
    )
    recorded.page = page
    try:
        yield recorded
    finally:
        context.close()


def schema_of(service) -> dict:
    with service.client(api_key=None) as client:
        return client.get("/openapi.json").json()


@needs_chromium
@pytest.mark.process
def test_swagger_ui_renders_every_operation_with_no_network(service, offline):
    page = offline.page
    response = page.goto(f"{service.url}/docs", wait_until="load")
    assert response is not None and response.ok
    page.wait_for_selector(".opblock-summary-path[data-path='/search']", timeout=30_000)
    page.wait_for_selector(".opblock-summary-path[data-path='/ask']")

    shown = page.evaluate(
        """() => Array.from(document.querySelectorAll('.opblock')).map(block => [
            block.querySelector('.opblock-summary-method').textContent.trim(),
            block.querySelector('.opblock-summary-path').dataset.path])"""
    )
    assert {tuple(pair) for pair in shown} == operations(schema_of(service))
    assert len(shown) == len(operations(schema_of(service)))
    assert page.locator(".information-container .title").inner_text().startswith("Glimpse")
    assert page.locator("button.authorize").is_visible()  # the ApiKey scheme is offered
    assert offline.blocked == []
    assert offline.errors == []


@needs_chromium
@pytest.mark.process
def test_try_it_out_needs_the_key_and_works_with_it(service, offline):
    page = offline.page
    page.goto(f"{service.url}/docs", wait_until="load")
    search = page.locator(".opblock").filter(
        has=page.locator(".opblock-summary-path[data-path='/search']")
    )
    search.locator(".opblock-summary").click()
    search.locator("button.try-out__btn").click()
    search.locator("tr[data-param-name='q'] input").fill("harbour storm")
    status = search.locator(".live-responses-table tr.response .response-col_status")

    search.locator("button.execute").click()
    status.wait_for()
    assert status.inner_text().strip() == "401"  # the page is public, the operation is not

    page.locator("button.authorize").click()
    page.locator(".modal-ux input#api_key_value").fill(KEY)
    page.locator(".modal-ux button.modal-btn.authorize").click()
    page.locator(".modal-ux button.btn-done").click()
    search.locator("button.execute").click()
    page.wait_for_function(
        """(cell) => cell.textContent.trim() === '200'""",
        arg=status.element_handle(),
        timeout=30_000,
    )
    body = search.locator(".live-responses-table tr.response .response-col_description")
    assert '"index": "empty"' in body.inner_text()
    assert offline.blocked == []
    # Chromium logs the 401 as a failed resource; nothing else may go wrong.
    assert all("401" in error for error in offline.errors), offline.errors


@needs_chromium
@pytest.mark.process
def test_redoc_renders_every_operation_with_no_network(service, offline):
    page = offline.page
    response = page.goto(f"{service.url}/redoc", wait_until="load")
    assert response is not None and response.ok
    page.wait_for_selector("[data-section-id^='tag/search/operation/']", timeout=30_000)

    schema = schema_of(service)
    ids = page.evaluate(
        """() => Array.from(document.querySelectorAll('[data-section-id^="tag/"]'))
            .map(element => element.getAttribute('data-section-id'))
            .filter(id => id.includes('/operation/'))"""
    )
    expected = {
        f"tag/{operation['tags'][0]}/operation/{operation['operationId']}"
        for item in schema["paths"].values()
        for operation in item.values()
    }
    assert set(ids) == expected and len(ids) == len(expected)
    assert page.locator("h1").first.inner_text().startswith("Glimpse")
    text = page.locator("body").inner_text()
    assert "/search" in text and "/ask" in text
    assert offline.blocked == []
    refused_logo = [e for e in offline.errors if REDOC_LOGO in e and "Content Security" in e]
    assert offline.errors == refused_logo


# (c) Which routes need a key


@pytest.mark.parametrize("path", PUBLIC)
@pytest.mark.process
def test_the_pages_schema_and_assets_need_no_key_and_ignore_a_wrong_one(service, path):
    with service.client(api_key=None) as anyone, service.client(api_key=WRONG) as wrong:
        assert anyone.get(path).status_code == 200
        assert wrong.get(path).status_code == 200
        assert anyone.get("/search", params={"q": "storm"}).status_code == 401


def keyed_app(tmp_path, routers=None, **env):
    env = {"GLIMPSE_STORAGE_URI": str(tmp_path), "GLIMPSE_API_KEYS": KEY, **env}
    return create_app(ServeSettings.from_env(env), env=env, routers=routers)


def ping_router():
    from fastapi import APIRouter

    router = APIRouter()

    @router.get("/ping")
    def ping() -> dict:
        return {"pong": True}

    return router


def test_the_schema_says_which_operations_need_a_key_and_they_do(tmp_path):
    from fastapi.testclient import TestClient

    with TestClient(keyed_app(tmp_path)) as client:
        schema = client.get("/openapi.json").json()
        assert schema["components"]["securitySchemes"]["ApiKey"]["name"] == "X-API-Key"
        open_operations = []
        for path, item in schema["paths"].items():
            url = re.sub(r"\{[^}]+\}", "some-id", path)
            for method, operation in item.items():
                answer = client.request(method.upper(), url)
                if operation.get("security") == [{"ApiKey": []}]:
                    assert answer.status_code == 401, (method, path)
                else:
                    assert "security" not in operation, (method, path)
                    assert answer.status_code != 401, (method, path)
                    open_operations.append(path)
        assert open_operations == ["/healthz"]  # and /sms/*, with GLIMPSE_SMS=on
        # The pages are not operations: the schema lists none of them.
        assert not set(schema["paths"]) & set(PUBLIC)
        for path in PUBLIC:
            assert client.get(path).status_code == 200, path
    description = schema["info"]["description"]
    assert "X-API-Key" in description
    assert "`/docs`, `/redoc`) and `/openapi.json` need no key" in description


def test_the_pages_are_outside_the_keys_rate_limit(tmp_path):
    from fastapi.testclient import TestClient

    app = keyed_app(
        tmp_path,
        [ping_router()],
        GLIMPSE_RATE_LIMIT_PER_SECOND="0.001",
        GLIMPSE_RATE_LIMIT_BURST="1",
    )
    with TestClient(app, headers={"X-API-Key": KEY}) as client:
        assert client.get("/ping").status_code == 200
        assert client.get("/ping").status_code == 429  # the key's one token is spent
        for _ in range(3):
            for path in PUBLIC:
                assert client.get(path).status_code == 200, path


def test_without_auth_the_schema_says_no_operation_needs_a_key(tmp_path):
    from fastapi.testclient import TestClient

    env = {"GLIMPSE_STORAGE_URI": str(tmp_path)}
    app = create_app(ServeSettings.from_env(env), env=env, no_auth=True, routers=[ping_router()])
    with TestClient(app) as client:
        schema = client.get("/openapi.json").json()
        assert client.get("/docs").status_code == 200
    assert "--no-auth" in schema["info"]["description"]
    assert "X-API-Key" not in schema["info"]["description"]
    assert "securitySchemes" not in schema.get("components", {})
