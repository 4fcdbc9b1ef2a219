"""Which day was posted where: one record per publisher and partition, in storage under _ledger/.

A record is `pending` from just before the outside call until its result is written, then
`published`. A `pending` record found by a later run means that run's predecessor stopped in
between; the publisher is asked whether the post went out (see `exactly_once`).
"""

from __future__ import annotations

import json
from typing import Any

from glimpse_assets.object_store import ObjectStore

LEDGER_PREFIX = "_ledger"


class PostLedger:
    def __init__(self, store: ObjectStore):
        self.store = store

    @staticmethod
    def key(publisher: str, day: str) -> str:
        return f"{LEDGER_PREFIX}/{publisher}/{day}.json"

    def get(self, publisher: str, day: str) -> dict[str, Any] | None:
        key = self.key(publisher, day)
        return json.loads(self.store.read_bytes(key)) if self.store.exists(key) else None

    def put(self, publisher: str, day: str, record: dict[str, Any]) -> None:
        body = json.dumps(record, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
        self.store.write_bytes(self.key(publisher, day), body, "application/json")
