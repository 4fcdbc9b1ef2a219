"""The FastAPI app: `/healthz` open to all, every router behind the API key and the rate limit
but Twilio's webhooks (`sms_routes`), which are checked by Twilio's signature.

`create_app(settings, env=..., no_auth=..., routers=...)` builds it; `glimpse serve` runs it on
uvicorn. A domain adds its routes as an `APIRouter` in `default_routers`; the guard and the
401/429 responses in OpenAPI are added to every router here, so no route can forget them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Literal

from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel

from glimpse_assets.serve.auth import (
    GUARDED_RESPONSES,
    ApiKeyGuard,
    KeyRing,
    OpenGuard,
    RateLimiter,
)
from glimpse_assets.serve.body_limit import ContentLengthLimit
from glimpse_assets.serve.errors import install_error_handlers
from glimpse_assets.serve.settings import ServeSettings
from glimpse_assets.settings import StorageSettings
from glimpse_assets.storage.object_store import is_s3_uri

DESCRIPTION = """What the Glimpse assets stored, over HTTP. Every route but `/healthz` needs an
API key in the `X-API-Key` header, and each key has a rate limit (429 with `Retry-After` past
it). The service reads what Dagster stored and writes only to inboxes that sensors turn into
runs; it never runs an asset."""


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    storage: Literal["local", "s3"]
    auth: Literal["api key", "off"]


@dataclass(frozen=True)
class Routers:
    """`guarded`: behind the API key and its rate limit. `signed`: Twilio's webhooks, which
    check Twilio's signature themselves and take no API key."""

    guarded: Sequence[APIRouter]
    signed: Sequence[APIRouter] = ()


def default_routers(env: Mapping[str, str]) -> Routers:
    """Every domain's routes. Raises `ConfigurationError` on a bad setting."""
    from glimpse_assets.serve.activities_routes import StoredActivities, activities_router
    from glimpse_assets.serve.search_routes import StoredSearch, search_router
    from glimpse_assets.serve.sms_routes import sms_routers

    search = StoredSearch.from_env(env)
    return Routers(
        guarded=[search_router(search), activities_router(StoredActivities.from_env(env))],
        signed=sms_routers(env, search),
    )


def create_app(
    settings: ServeSettings,
    *,
    env: Mapping[str, str] | None = None,
    no_auth: bool = False,
    routers: Sequence[APIRouter] | Routers | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> FastAPI:
    """`routers` (a list: all guarded) defaults to `default_routers(env)`; `env` to
    `os.environ`. Without API keys the app is refused unless `no_auth` (then every route is
    open, under one shared limit)."""
    env = os.environ if env is None else env
    if not settings.api_keys and not no_auth:
        raise ValueError("no API keys are configured (GLIMPSE_API_KEYS) and no_auth is not set")
    storage = StorageSettings.from_env(env)
    limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst, clock)
    if no_auth:
        guard, responses = OpenGuard(limiter), {429: GUARDED_RESPONSES[429]}
    else:
        guard, responses = ApiKeyGuard(KeyRing(settings.api_keys), limiter), GUARDED_RESPONSES

    app = FastAPI(
        title="Glimpse",
        version=metadata.version("glimpse_assets"),
        description=DESCRIPTION,
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    install_error_handlers(app)
    app.add_middleware(ContentLengthLimit)
    health = Health(
        status="ok",
        version=app.version,
        storage="s3" if is_s3_uri(storage.storage_uri) else "local",
        auth="off" if no_auth else "api key",
    )

    @app.get("/healthz", tags=["service"], summary="Whether the service is up (no key needed)")
    async def healthz() -> Health:
        return health

    routers = default_routers(env) if routers is None else routers
    if not isinstance(routers, Routers):
        routers = Routers(guarded=routers)
    for router in routers.guarded:
        app.include_router(router, dependencies=[Depends(guard)], responses=responses)
    for router in routers.signed:
        app.include_router(router)
    return app
