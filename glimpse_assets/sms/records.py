"""What the SMS channel keeps in the object store, under `_sms/`, and how a person is named.

A phone number appears in exactly one place: its subscriber record
(`_sms/subscribers/<id>.json`, needed to send to it). Everywhere else (logs, metadata, the
delivery ledger, status records, conversation memory) a person is `person_id(number)`: an
HMAC-SHA256 of the number under a random salt made once per storage root (`_sms/salt.json`), so
ids are stable across runs and processes but cannot be reversed by guessing numbers without the
salt. Message bodies are never stored and are only ever reported by their length; only our own
replies are kept, under `_sms/replies/`, so that a retried webhook gets the same one.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from typing import Any

from glimpse_assets.storage.object_store import (
    AlreadyExistsError,
    ObjectChangedError,
    ObjectStore,
)
from glimpse_assets.storage.records import JsonRecords

SMS_PREFIX = "_sms"
SUBSCRIBED, STOPPED, UNSUBSCRIBED, INVALID = "subscribed", "stopped", "unsubscribed", "invalid"
# Twilio's message statuses, in the order a message goes through them; a late callback for an
# earlier status never overwrites a later one.
STATUS_ORDER = (
    "accepted",
    "scheduled",
    "queued",
    "sending",
    "sent",
    "receiving",
    "received",
    "delivered",
    "read",
    "undelivered",
    "failed",
    "canceled",
)
UNDELIVERED = frozenset({"undelivered", "failed", "canceled"})


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SmsRecords:
    def __init__(self, store: ObjectStore) -> None:
        self.records = JsonRecords(store, SMS_PREFIX)
        self._salt: bytes | None = None

    # -- naming people ------------------------------------------------------------------------

    def salt(self) -> bytes:
        if self._salt is None:
            stored = self.records.get("salt")
            if stored is None:
                # Another process may make it first: then its salt is the one used.
                with contextlib.suppress(AlreadyExistsError):
                    self.records.create("salt", {"salt": secrets.token_hex(32)})
                stored = self.records.get("salt")
            self._salt = bytes.fromhex(stored["salt"])
        return self._salt

    def person_id(self, number: str) -> str:
        """`p-` and 20 hex characters: the salted hash that stands for `number` everywhere."""
        digest = hmac.new(self.salt(), number.encode("utf-8"), hashlib.sha256).hexdigest()
        return f"p-{digest[:20]}"

    # -- subscribers --------------------------------------------------------------------------

    def subscriber(self, number: str) -> dict[str, Any] | None:
        return self.records.get(f"subscribers/{self.person_id(number)}")

    def set_subscriber(self, number: str, status: str, reason: str) -> dict[str, Any]:
        """Record `number`'s status (`subscribed`, `stopped`, `unsubscribed`, `invalid`) and why
        (`START`, `STOP`, `twilio 21610`, ...); the latest word wins."""
        name = f"subscribers/{self.person_id(number)}"
        record = {
            "number": number,
            "person": self.person_id(number),
            "status": status,
            "reason": reason,
            "updated_at": now_iso(),
        }
        self.records.put(name, record)
        return record

    def recipients(self, configured: list[str]) -> list[str]:
        """The numbers the daily glimpse goes to: the configured ones and those who texted
        START, without those who texted STOP, whom Twilio reports unsubscribed (21610) or whose
        number it rejects (21211). In a stable order (by person id)."""
        stored = {}
        for name in self.records.names("subscribers"):
            record = self.records.get(name)
            if record and record.get("number"):
                stored[record["number"]] = record.get("status")
        wanted = set(configured) | {n for n, status in stored.items() if status == SUBSCRIBED}
        chosen = [n for n in wanted if stored.get(n, SUBSCRIBED) == SUBSCRIBED]
        return sorted(chosen, key=self.person_id)

    # -- delivery status (Twilio's status callbacks) -------------------------------------------

    def message_status(self, sid: str) -> dict[str, Any] | None:
        return self.records.get(f"status/{sid}")

    def record_status(self, sid: str, status: str, error_code: str | None = None) -> bool:
        """Keep the furthest status Twilio reported for message `sid`; False if `status` came
        late (an earlier stage than the one stored) and was dropped."""
        name = f"status/{sid}"
        rank = STATUS_ORDER.index(status) if status in STATUS_ORDER else -1
        for _ in range(5):
            current = self.records.get_versioned(name)
            if current is not None:
                stored = current[0].get("status")
                if stored in STATUS_ORDER and STATUS_ORDER.index(stored) >= rank:
                    return False
            record = {
                "sid": sid,
                "status": status,
                "error_code": error_code,
                "updated_at": now_iso(),
            }
            try:
                if current is None:
                    self.records.create(name, record)
                else:
                    self.records.replace(name, record, current[1])
                return True
            except (AlreadyExistsError, ObjectChangedError):
                continue  # another callback wrote first: compare again
        return False
