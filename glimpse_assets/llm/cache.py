"""Provider responses kept as JSON records under `_cache/`, keyed by the full request.

The key is a SHA-256 of provider, model, endpoint and the request body (canonical JSON), so any
change to a prompt, a parameter or the model is a different entry; credentials are not part of
a request body and never stored.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from glimpse_assets.storage.records import JsonRecords

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
    def __init__(self, records: JsonRecords):
        self.records = records

    @staticmethod
    def entry_name(provider: str, model: str, endpoint: str, key: str) -> str:
        return f"{_safe(provider)}/{_safe(endpoint)}/{_safe(model)}/{key}"

    def get(self, name: str) -> dict[str, Any] | None:
        entry = self.records.get(name)
        return None if entry is None else entry["response"]

    def put(self, name: str, request: dict[str, Any], response: dict[str, Any]) -> None:
        self.records.put(name, {"request": request, "response": response})
