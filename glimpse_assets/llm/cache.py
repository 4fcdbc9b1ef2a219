"""Provider responses stored in the storage backend under `_cache/`, keyed by the full request.

The key is a SHA-256 of provider, model, endpoint and the request body (canonical JSON), so any
change to a prompt, a parameter or the model is a different entry; credentials are not part of
a request body and never stored.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from glimpse_assets.object_store import ObjectStore

CACHE_PREFIX = "_cache"


def cache_key(provider: str, model: str, endpoint: str, request: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"provider": provider, "model": model, "endpoint": endpoint, "request": request},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "_"


class ResponseCache:
    def __init__(self, store: ObjectStore):
        self.store = store

    @staticmethod
    def object_key(provider: str, model: str, endpoint: str, key: str) -> str:
        return f"{CACHE_PREFIX}/{_safe(provider)}/{_safe(endpoint)}/{_safe(model)}/{key}.json"

    def get(self, object_key: str) -> dict[str, Any] | None:
        if not self.store.exists(object_key):
            return None
        return json.loads(self.store.read_bytes(object_key))["response"]

    def put(self, object_key: str, request: dict[str, Any], response: dict[str, Any]) -> None:
        body = json.dumps({"request": request, "response": response}, ensure_ascii=False)
        self.store.write_bytes(object_key, body.encode("utf-8"), "application/json")
