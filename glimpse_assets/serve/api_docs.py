"""The API pages, offline: Swagger UI at `/docs` and ReDoc at `/redoc`, both reading the
schema at `/openapi.json`, with their JavaScript, CSS and icon served by the service itself
under `/docs/assets/` (FastAPI's own pages load them from a CDN: blank without the internet).

The files come from the `fastapi-offline` package (a dependency): the Swagger UI 5 and ReDoc 2
bundles, copied from the CDN that FastAPI uses, in its `static/` folder. Only that folder is
used, mounted with `StaticFiles`; the pages are FastAPI's `get_swagger_ui_html` and
`get_redoc_html` pointed at it, without Google's fonts and without Swagger UI's online
validator. Their HTML names no other host, and their Content-Security-Policy keeps the browser
from loading anything from one (ReDoc's script asks for Redocly's logo on a CDN: refused).

The pages, the schema and the assets need no API key (`PUBLIC_PATHS`): they describe the
routes and reveal no stored data, and a browser loads the schema without the key. Swagger UI's
Authorize button takes a key for "Try it out".
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

OPENAPI_URL = "/openapi.json"
DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs/assets"
ASSETS_PACKAGE = "fastapi_offline"
SWAGGER_JS = "swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui.css"
REDOC_JS = "redoc.standalone.js"
FAVICON = "favicon.png"

# Every path served without a key besides /healthz; ASSETS_URL is a folder (everything under it).
PUBLIC_PATHS = frozenset({OPENAPI_URL, DOCS_URL, REDOC_URL, ASSETS_URL})

# Swagger UI's defaults would send the schema's URL to validator.swagger.io for a badge.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}

# The browser loads nothing for these pages from another host, whatever their scripts ask for:
# ReDoc's footer asks cdn.redoc.ly for Redocly's logo (it shows its text without it). Inline
# script and style: FastAPI's pages start Swagger UI inline, and both UIs style inline.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ]
)


def assets_folder() -> Path:
    """The folder of Swagger UI's and ReDoc's files in the installed `fastapi-offline`."""
    folder = Path(str(resources.files(ASSETS_PACKAGE) / "static"))
    missing = [
        name
        for name in (SWAGGER_JS, SWAGGER_CSS, REDOC_JS, FAVICON)
        if not (folder / name).is_file()
    ]
    if missing:
        raise RuntimeError(f"{ASSETS_PACKAGE} at {folder} lacks {', '.join(missing)}")
    return folder


def _asset(request: Request, name: str) -> str:
    return f"{request.scope.get('root_path', '').rstrip('/')}{ASSETS_URL}/{name}"


def install_api_docs(app: FastAPI) -> None:
    """Add `/docs`, `/redoc` and `/docs/assets/` to `app`, which must have been made with
    `openapi_url=OPENAPI_URL`, `docs_url=None`, `redoc_url=None` (FastAPI's CDN pages off)."""
    if app.openapi_url != OPENAPI_URL or app.docs_url or app.redoc_url:
        raise ValueError("make the app with FastAPI's own docs pages off (docs_url=None, ...)")
    app.mount(ASSETS_URL, StaticFiles(directory=assets_folder()), name="api-docs-assets")

    def openapi_url(request: Request) -> str:
        return f"{request.scope.get('root_path', '').rstrip('/')}{OPENAPI_URL}"

    async def swagger_ui(request: Request) -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url(request),
            title=f"{app.title} - Swagger UI",
            swagger_js_url=_asset(request, SWAGGER_JS),
            swagger_css_url=_asset(request, SWAGGER_CSS),
            swagger_favicon_url=_asset(request, FAVICON),
            oauth2_redirect_url=None,  # no OAuth2 here: the key goes in X-API-Key
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )
        page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return page

    async def redoc(request: Request) -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url(request),
            title=f"{app.title} - ReDoc",
            redoc_js_url=_asset(request, REDOC_JS),
            redoc_favicon_url=_asset(request, FAVICON),
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return page

    # As FastAPI adds its own pages: GET and HEAD, outside the schema.
    app.add_route(DOCS_URL, swagger_ui, include_in_schema=False)
    app.add_route(REDOC_URL, redoc, include_in_schema=False)
