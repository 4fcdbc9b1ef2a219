"""Provider responses kept as JSON records under `_cache/`, keyed by everything that makes the
answer.

The key is a SHA-256 of the server's identity (its normalised base URL: another server with the
same model name is another cache), the provider, the endpoint, the model and the full request
body with every parameter (canonical JSON), so any change to the server, a prompt, a parameter or
the model is a different entry. Credentials are in no request body and never stored; the base URL
is stored without any user:password part.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from glimpse_assets.storage.records import JsonRecords

CACHE_PREFIX = "_cache"
DEFAULT_BASE_URL = "https://api.openai.com/v1"  # the openai SDK's, when OPENAI_BASE_URL is unset
_DEFAULT_PORTS = {"http": 80, "https": 443}


def server_identity(base_url: Any) -> str:
    """The base URL as one canonical string: scheme and host in lower case, no default port, no
    credentials, no trailing slash, query parameters sorted (e.g. an `api-version`).
    `HTTP://LocalHost:80/v1/` and `http://localhost/v1` are the same server."""
    text = str(base_url or DEFAULT_BASE_URL).strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    path = re.sub(r"/+", "/", parts.path).rstrip("/")
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")


def cache_key(
    provider: str, model: str, endpoint: str, request: dict[str, Any], *, server: str
) -> str:
    """`server` is a `server_identity`."""
    canonical = json.dumps(
        {
            "server": server,
            "provider": provider,
            "endpoint": endpoint,
            "model": model,
            "request": request,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "_"


class ResponseCache:
    def __init__(self, records: JsonRecords):
        self.records = records

    @staticmethod
    def entry_name(provider: str, model: str, endpoint: str, key: str) -> str:
        return f"{_safe(provider)}/{_safe(endpoint)}/{_safe(model)}/{key}"

    def get(self, name: str) -> dict[str, Any] | None:
        entry = self.records.get(name)
        return None if entry is None else entry["response"]

    def put(
        self, name: str, request: dict[str, Any], response: dict[str, Any], server: str
    ) -> None:
        self.records.put(name, {"server": server, "request": request, "response": response})
