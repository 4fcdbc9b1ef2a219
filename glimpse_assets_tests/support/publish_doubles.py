"""Doubles and helpers for the publish tests: Instagram's Graph API content-publishing endpoints
(served by a LocalHTTPServer), an SMTP server (aiosmtpd) that keeps what it receives, and the
day's post."""

from __future__ import annotations

import email
import email.policy
import io
import threading
from pathlib import Path
from urllib.parse import parse_qsl

from aiosmtpd.controller import Controller
from PIL import Image

from glimpse_assets.publish.publishers import InstagramPublisher, Post
from glimpse_assets.storage.exactly_once import LEDGER_PREFIX
from glimpse_assets.storage.records import JsonRecords
from glimpse_assets.storage.resource import ObjectStoreResource
from glimpse_assets_tests.support.http_doubles import LocalHTTPServer, Reply

DAY = "2026-03-01"
TOKEN = "EAAGtest0token0abc123"
USER_ID = "17841400000000001"
GRAPH_VERSION = "v21.0"


def png_bytes(size: tuple[int, int] = (64, 64), color: str = "teal") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def object_store_at(root: Path) -> ObjectStoreResource:
    return ObjectStoreResource(storage_uri=str(root))


def ledger_of(object_store: ObjectStoreResource) -> JsonRecords:
    """The publishing ledger over `object_store`: `_ledger/<publisher>/<day>.json`."""
    return object_store.records(LEDGER_PREFIX)


def a_post(day: str = DAY, caption: str = "Lanterns over the harbour.\n\n#glimpse #dailynews"):
    return Post(
        day=day,
        caption=caption,
        png=png_bytes(),
        title="Harbour lanterns festival",
        prompt="Lanterns over a harbour at dusk, warm light.",
        headlines=[{"title": "Harbour lanterns festival", "url": "https://news.example/a1"}],
    )


# -- Instagram Graph API ----------------------------------------------------------------------


def graph_error(message: str, code: int, status: int = 400, kind: str = "OAuthException"):
    return Reply.json(
        {"error": {"message": message, "type": kind, "code": code, "fbtrace_id": "AxYz0123"}},
        status=status,
    )


def sent_params(request) -> dict[str, str]:
    """The request's parameters, whether sent in the query string or as a form body."""
    form = dict(parse_qsl(request.body.decode("utf-8"))) if request.body else {}
    return {**request.query, **form}


class FakeGraphAPI:
    """Instagram's content-publishing endpoints as Glimpse uses them: create a container, query
    its status_code, publish it. `errors` maps an endpoint ("media", "status", "media_publish")
    to the error reply it gives instead; `statuses` are the answers to successive status
    queries of an unpublished container (the last one repeats), `fixed` the status of given
    containers (e.g. one a crashed run created) until they are published."""

    def __init__(self, statuses=("IN_PROGRESS", "FINISHED"), errors=None, fixed=None):
        self.statuses = list(statuses)
        self.fixed = dict(fixed or {})  # container id -> the status it always has until published
        self.errors = dict(errors or {})
        self.containers: list[str] = []
        self.published: list[str] = []  # container ids made public, in order
        self.answered_statuses: list[str] = []
        self.hold_publish_reply: threading.Event | None = None  # set: reply; unset: stall
        self._lock = threading.Lock()

    def endpoint(self, request) -> str:
        parts = request.path.strip("/").split("/")
        if request.method == "POST" and parts[1:] == [USER_ID, "media"]:
            return "media"
        if request.method == "POST" and parts[1:] == [USER_ID, "media_publish"]:
            return "media_publish"
        if request.method == "GET" and len(parts) == 2:
            return "status"
        return "unknown"

    def __call__(self, request) -> Reply:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return graph_error("Invalid OAuth access token - Cannot parse access token", 190)
        endpoint = self.endpoint(request)
        if endpoint in self.errors:
            return self.errors[endpoint]
        params = sent_params(request)
        with self._lock:
            if endpoint == "media":
                container = str(17_900_000_000_000_000 + len(self.containers))
                self.containers.append(container)
                return Reply.json({"id": container})
            if endpoint == "status":
                container = request.path.strip("/").split("/")[1]
                if container in self.published:
                    status = "PUBLISHED"
                elif container in self.fixed:
                    status = self.fixed[container]
                else:
                    index = min(len(self.answered_statuses), len(self.statuses) - 1)
                    status = self.statuses[index]
                self.answered_statuses.append(status)
                return Reply.json({"status_code": status, "id": container})
            if endpoint == "media_publish":
                self.published.append(params["creation_id"])
                media_id = str(18_000_000_000_000_000 + len(self.published))
        if endpoint == "media_publish":
            if self.hold_publish_reply is not None:
                self.hold_publish_reply.wait(timeout=10)  # the post is public; the reply stalls
            return Reply.json({"id": media_id})
        return graph_error(f"Unsupported request {request.method} {request.path}", 100)

    def calls(self, server: LocalHTTPServer, endpoint: str) -> list:
        return [r for r in server.requests if self.endpoint(r) == endpoint]


def instagram(server: LocalHTTPServer, **settings) -> InstagramPublisher:
    return InstagramPublisher(
        **{
            "access_token": TOKEN,
            "user_id": USER_ID,
            "graph_url": f"{server.url}/{GRAPH_VERSION}",
            "poll_seconds": 0,
            **settings,
        }
    )


# -- SMTP -----------------------------------------------------------------------------------


class Mailbox:
    """An aiosmtpd handler that keeps every envelope it receives."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[email.message.EmailMessage]:
        return [
            email.message_from_bytes(e.original_content, policy=email.policy.default)
            for e in self.envelopes
        ]


class LocalSMTPController(Controller):
    """aiosmtpd's Controller on a free port chosen by the OS (port=0)."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()
