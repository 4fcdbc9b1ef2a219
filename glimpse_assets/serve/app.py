"""The FastAPI app: `/healthz` and the API pages (`/docs`, `/redoc`, `/openapi.json` and their
assets, see `api_docs`) open to all, every router behind the API key and the rate limit but
Twilio's webhooks (`sms_routes`), which are checked by Twilio's signature.

`create_app(settings, env=..., no_auth=..., routers=...)` builds it; `glimpse serve` runs it on
uvicorn. A domain adds its routes as an `APIRouter` in `default_routers`; the guard and the
401/429 responses in OpenAPI are added to every router here, so no route can forget them.

The default routers are built inside `request_limits()`: every object store they open bounds its
S3 calls to seconds (a request's worth), not boto3's minutes. `/healthz` looks at the storage
each time (`StorageProbe`): 503 `degraded` when it cannot be reached within 2 s; `degraded`
with 200 when it is full or read-only (reads still work).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Literal

from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel, Field

from glimpse_assets.serve.access_log import hide_query_strings
from glimpse_assets.serve.api_docs import OPENAPI_URL, install_api_docs
from glimpse_assets.serve.auth import (
    GUARDED_RESPONSES,
    ApiKeyGuard,
    KeyRing,
    OpenGuard,
    RateLimiter,
)
from glimpse_assets.serve.body_limit import ContentLengthLimit
from glimpse_assets.serve.errors import AsciiJSONResponse, install_error_handlers
from glimpse_assets.serve.settings import ServeSettings
from glimpse_assets.settings import StorageSettings
from glimpse_assets.storage.object_store import (
    PROBE_LIMITS,
    ObjectStore,
    StorageFullError,
    StorageReadOnlyError,
    is_s3_uri,
    open_object_store,
    request_limits,
)

SERVICE = """What the Glimpse assets stored, over HTTP. The service reads what Dagster stored and
writes only to inboxes that sensors turn into runs; it never runs an asset."""

DESCRIPTION = f"""{SERVICE}

Every operation but `/healthz` and Twilio's webhooks (`/sms/*`, checked by Twilio's signature
instead) needs an API key in the `X-API-Key` header, and each key has a rate limit (429 with
`Retry-After` past it). The API pages (`/docs`, `/redoc`) and `/openapi.json` need no key; in
`/docs`, Authorize takes one for "Try it out"."""

NO_AUTH_DESCRIPTION = f"""{SERVICE}

This service runs with `--no-auth`: no operation needs a key, and every caller shares one rate
limit (429 with `Retry-After` past it)."""


StorageStatus = Literal["ok", "unreachable", "read-only", "full"]
PROBE_DEADLINE_SECONDS = 2.0


class Health(BaseModel):
    status: Literal["ok", "degraded"] = Field(description="`degraded`: the storage is not `ok`")
    version: str
    storage: Literal["local", "s3"]
    storage_status: StorageStatus = Field(
        description="`unreachable`: no answer within 2 s, or refused (then 503); `read-only` "
        "or `full`: reads work, writes are refused"
    )
    auth: Literal["api key", "off"]


def storage_status(open_store: Callable[[], ObjectStore]) -> StorageStatus:
    try:
        open_store().check()
    except StorageFullError:
        return "full"
    except StorageReadOnlyError:
        return "read-only"
    except Exception:  # a StorageError, or a store that cannot even be opened
        return "unreachable"
    return "ok"


class StorageProbe:
    """`/healthz`'s look at the storage: one `check()` at a time, in a thread of its own (a
    stalled store holds that thread, not the event loop or a request's worker), shared by the
    callers that come meanwhile, none of whom waits more than `deadline` seconds."""

    def __init__(self, storage_uri: str, deadline: float = PROBE_DEADLINE_SECONDS):
        self.storage_uri = storage_uri
        self.deadline = deadline
        self._store: ObjectStore | None = None
        self._lock = threading.Lock()
        self._pending: concurrent.futures.Future[StorageStatus] | None = None

    def _open(self) -> ObjectStore:
        if self._store is None:
            self._store = open_object_store(self.storage_uri, limits=PROBE_LIMITS)
        return self._store

    def _run(self, pending: concurrent.futures.Future[StorageStatus]) -> None:
        status = storage_status(self._open)
        with self._lock:
            self._pending = None
        pending.set_result(status)

    async def status(self) -> StorageStatus:
        with self._lock:
            if self._pending is None:
                self._pending = concurrent.futures.Future()
                threading.Thread(
                    target=self._run, args=(self._pending,), name="storage-probe", daemon=True
                ).start()
            pending = self._pending
        try:
            waiting = asyncio.shield(asyncio.wrap_future(pending))
            return await asyncio.wait_for(waiting, self.deadline)
        except TimeoutError:
            return "unreachable"


@dataclass(frozen=True)
class Routers:
    """`guarded`: behind the API key and its rate limit. `signed`: Twilio's webhooks, which
    check Twilio's signature themselves and take no API key."""

    guarded: Sequence[APIRouter]
    signed: Sequence[APIRouter] = ()


def default_routers(env: Mapping[str, str]) -> Routers:
    """Every domain's routes. Raises `ConfigurationError` on a bad setting."""
    from glimpse_assets.serve.activities_routes import StoredActivities, activities_router
    from glimpse_assets.serve.ask_routes import stored_ask_router
    from glimpse_assets.serve.search_routes import StoredSearch, search_router
    from glimpse_assets.serve.sms_routes import sms_routers

    search = StoredSearch.from_env(env)
    return Routers(
        guarded=[
            search_router(search),
            stored_ask_router(env, search),
            activities_router(StoredActivities.from_env(env)),
        ],
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
        description=NO_AUTH_DESCRIPTION if no_auth else DESCRIPTION,
        openapi_url=OPENAPI_URL,
        docs_url=None,  # FastAPI's pages load from a CDN; install_api_docs serves its own
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    install_api_docs(app)
    hide_query_strings()  # searches and questions never reach the access log
    install_error_handlers(app)
    app.add_middleware(ContentLengthLimit)
    probe = StorageProbe(storage.storage_uri)
    storage_kind = "s3" if is_s3_uri(storage.storage_uri) else "local"
    auth = "off" if no_auth else "api key"

    @app.get(
        "/healthz",
        tags=["service"],
        summary="Whether the service is up and reaches its storage (no key needed)",
        response_model=Health,
        responses={503: {"model": Health, "description": "The storage cannot be reached"}},
    )
    async def healthz() -> AsciiJSONResponse:
        status = await probe.status()
        health = Health(
            status="ok" if status == "ok" else "degraded",
            version=app.version,
            storage=storage_kind,
            storage_status=status,
            auth=auth,
        )
        code = 503 if status == "unreachable" else 200
        return AsciiJSONResponse(status_code=code, content=health.model_dump())

    if routers is None:
        with request_limits():  # every store the routes open: a request's limits (see above)
            routers = default_routers(env)
    if not isinstance(routers, Routers):
        routers = Routers(guarded=routers)
    for router in routers.guarded:
        app.include_router(router, dependencies=[Depends(guard)], responses=responses)
    for router in routers.signed:
        app.include_router(router)
    return app
