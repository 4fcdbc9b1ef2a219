"""What the SMS channel keeps in the object store, under `_sms/`, and how a person is named.

A phone number appears in exactly one place: its subscriber record
(`_sms/subscribers/<id>.json`, needed to send to it). Everywhere else (logs, metadata, the
delivery ledger, status records, conversation memory) a person is `person_id(number)`: an
HMAC-SHA256 of the number under a random salt made once per storage root (`_sms/salt.json`), so
ids are stable across runs and processes but cannot be reversed by guessing numbers without the
salt. Message bodies are never stored and are only ever reported by their length; only our own
replies are kept, under `_sms/replies/`, so that a retried webhook gets the same one.

Stored garbage (a truncated or overwritten object) is named by its key and what is wrong with
it, never quoted, and costs only what it held:

* The salt is kept twice, `_sms/salt.json` and `_sms/salt-copy.json`: a garbage or missing one
  is put back from the other. A new salt would name everyone anew (the ledger of the days
  already texted would no longer match), so with neither readable nothing makes one:
  `person_id` raises `BadRecordError` naming the key until someone restores it.
* A garbage subscriber record is reported by `audience` (its person id is its name), and that
  person is left out: it may have held their STOP. The next word of theirs replaces it.
* A garbage reply or status record holds nothing worth keeping: it is written over.

A subscriber record also keeps the MessageSids of the keywords (START, STOP) applied to it
(`keyword_sids`, the latest `KEYWORD_SIDS`): a captured START posted again, months later and
after `_sms/replies/` was cleaned, is recognised there and changes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from glimpse_assets.sms.settings import is_e164
from glimpse_assets.storage.object_store import (
    AlreadyExistsError,
    ObjectChangedError,
    ObjectNotFoundError,
    ObjectStore,
    StorageError,
)
from glimpse_assets.storage.records import JsonRecords

log = logging.getLogger(__name__)

SMS_PREFIX = "_sms"
SALT, SALT_COPY = "salt", "salt-copy"
SUBSCRIBED, STOPPED, UNSUBSCRIBED, INVALID = "subscribed", "stopped", "unsubscribed", "invalid"
STATUSES = frozenset({SUBSCRIBED, STOPPED, UNSUBSCRIBED, INVALID})
KEYWORD_SIDS = 500  # a person's keyword texts remembered: far more than anyone sends
WRITE_ATTEMPTS = 10
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
    "partially_delivered",
    "delivered",
    "read",
    "undelivered",
    "failed",
    "canceled",
)
UNDELIVERED = frozenset({"undelivered", "failed", "canceled"})
_MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-f]{32}$")
_HEX_SALT = re.compile(r"^[0-9a-f]{64}$")


class BadRecordError(ValueError):
    """A stored SMS record that cannot be used; the message names its key and what is wrong."""


class Stored(NamedTuple):
    """A record as read: (None, None, None) when there is none; a garbage one has `problem`."""

    record: dict[str, Any] | None
    etag: str | None
    problem: str | None


@dataclass(frozen=True)
class Audience:
    """Who the day's text goes to, and the subscriber records that could not be read (person
    id -> "key: what is wrong")."""

    numbers: list[str]
    unreadable: dict[str, str]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def is_message_sid(value: object) -> bool:
    """Twilio's message SID: SM (or MM for MMS) and 32 hex characters."""
    return isinstance(value, str) and bool(_MESSAGE_SID.match(value))


def parse_record(data: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """(the JSON object, None) or (None, what is wrong with the bytes)."""
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None, "not JSON"
    if not isinstance(value, dict):
        return None, "not a JSON object"
    return value, None


class SmsRecords:
    def __init__(self, store: ObjectStore) -> None:
        self.records = JsonRecords(store, SMS_PREFIX)
        self._salt: bytes | None = None

    def key(self, name: str) -> str:
        return self.records.key(name)

    def read(self, name: str) -> Stored:
        try:
            data, etag = self.records.store.get_versioned(self.key(name))
        except ObjectNotFoundError:
            return Stored(None, None, None)
        record, problem = parse_record(data)
        return Stored(record, etag, problem)

    def write(self, name: str, record: dict[str, Any], etag: str | None) -> str:
        """Create the record (`etag` None) or replace the version read with `etag`."""
        if etag is None:
            return self.records.create(name, record)
        return self.records.replace(name, record, etag)

    def delete(self, name: str) -> None:
        self.records.store.delete(self.key(name))

    # -- naming people ------------------------------------------------------------------------

    def salt(self) -> bytes:
        """The salt, read once per process (a failure is not kept: the next call reads again)."""
        if self._salt is None:
            self._salt = self._load_salt()
        return self._salt

    def _salt_in(self, name: str) -> tuple[bytes | None, str | None]:
        """(the salt, None), (None, what is wrong) or (None, None) when there is no record."""
        stored = self.read(name)
        if stored.etag is None:
            return None, None
        value = (stored.record or {}).get("salt")
        if stored.problem or not isinstance(value, str) or not _HEX_SALT.match(value):
            return None, stored.problem or "no 'salt' of 64 hex characters in it"
        return bytes.fromhex(value), None

    def _load_salt(self) -> bytes:
        main, problem = self._salt_in(SALT)
        copy, copy_problem = self._salt_in(SALT_COPY)
        if main is None and problem is None and copy is None and copy_problem is None:
            # The first use of this storage. Another process may make it first: then its
            # salt is the one used.
            with contextlib.suppress(AlreadyExistsError):
                self.records.create(SALT, {"salt": secrets.token_hex(32)})
            main, problem = self._salt_in(SALT)
        if main is not None:
            if copy != main:
                self.records.put(SALT_COPY, {"salt": main.hex()})
            return main
        if copy is not None:
            log.warning(
                "%s is %s: put back from %s",
                self.key(SALT),
                problem or "missing",
                self.key(SALT_COPY),
            )
            self.records.put(SALT, {"salt": copy.hex()})
            return copy
        raise BadRecordError(
            f"{self.key(SALT)} is unusable ({problem or 'missing'}) and so is its copy "
            f"{self.key(SALT_COPY)} ({copy_problem or 'missing'}): no person id can be "
            "computed, so nothing is sent or recorded for anyone. Restore the salt from a "
            "backup; a new one would name everyone anew and could text a day twice."
        )

    def person_id(self, number: str) -> str:
        """`p-` and 20 hex characters: the salted hash that stands for `number` everywhere."""
        digest = hmac.new(self.salt(), number.encode("utf-8"), hashlib.sha256).hexdigest()
        return f"p-{digest[:20]}"

    # -- subscribers --------------------------------------------------------------------------

    def subscriber(self, number: str) -> dict[str, Any] | None:
        return self.read(f"subscribers/{self.person_id(number)}").record

    def _update_subscriber(
        self, number: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> dict[str, Any] | None:
        """Read, `change` (None: leave it) and write from the version read, again if another
        writer came first, so a STOP and a refusal noted at once both stay. A garbage record
        is written over. The record written, or None when `change` left it."""
        person = self.person_id(number)
        name = f"subscribers/{person}"
        for _ in range(WRITE_ATTEMPTS):
            stored = self.read(name)
            record = change(dict(stored.record or {}))
            if record is None:
                return None
            record.update(number=number, person=person, updated_at=now_iso())
            try:
                self.write(name, record, stored.etag)
                return record
            except (AlreadyExistsError, ObjectChangedError):
                continue
        raise StorageError(f"{self.key(name)} kept changing while it was written; try again")

    def set_subscriber(self, number: str, status: str, reason: str, sid: str | None = None) -> bool:
        """Record `number`'s status (`subscribed`, `stopped`, `unsubscribed`, `invalid`) and why
        (`START`, `STOP`, `twilio 21610`, ...); the latest word wins. A keyword's MessageSid
        (`sid`) already applied to this person is not applied again: False."""

        def change(record: dict[str, Any]) -> dict[str, Any] | None:
            sids = record.get("keyword_sids")
            sids = [s for s in sids if isinstance(s, str)] if isinstance(sids, list) else []
            if sid is not None and sid in sids:
                return None
            record.update(status=status, reason=reason)
            if sid is not None:
                record["keyword_sids"] = [*sids, sid][-KEYWORD_SIDS:]
            return record

        return self._update_subscriber(number, change) is not None

    def note_refusal(self, number: str, code: Any, day: str) -> None:
        """Keep Twilio's latest refusal of a text to `number` (a code that is not final, such
        as 21408) on its record; its subscription stays as it was."""

        def change(record: dict[str, Any]) -> dict[str, Any]:
            record["refused"] = {"code": code, "day": day, "at": now_iso()}
            return record

        self._update_subscriber(number, change)

    def audience(self, configured: list[str]) -> Audience:
        """The numbers the daily glimpse goes to: the configured ones and those who texted
        START, without those who texted STOP, whom Twilio reports unsubscribed (21610) or
        whose number it rejects (21211), nor those whose record cannot be read. In a stable
        order (by person id)."""
        latest: dict[str, dict[str, Any]] = {}
        unreadable: dict[str, str] = {}
        for name in self.records.names("subscribers"):
            stored = self.read(name)
            record, problem = stored.record, stored.problem
            if record is not None and not is_e164(str(record.get("number") or "")):
                problem = "no E.164 number in it"
            elif record is not None and record.get("status") not in (None, *STATUSES):
                problem = "not a known status in it"
            if problem:
                unreadable[name.rsplit("/", 1)[-1]] = f"{self.key(name)}: {problem}"
            elif record is not None:
                number = record["number"]
                stamp = str(record.get("updated_at") or "")
                if stamp >= str(latest.get(number, {}).get("updated_at") or ""):
                    latest[number] = record
        wanted = set(configured) | {
            number for number, record in latest.items() if record.get("status") == SUBSCRIBED
        }
        chosen = [
            number
            for number in wanted
            if latest.get(number, {}).get("status") in (None, SUBSCRIBED)
            and self.person_id(number) not in unreadable
        ]
        return Audience(sorted(chosen, key=self.person_id), unreadable)

    def recipients(self, configured: list[str]) -> list[str]:
        return self.audience(configured).numbers

    # -- delivery status (Twilio's status callbacks) -------------------------------------------

    def message_status(self, sid: str) -> dict[str, Any] | None:
        return self.read(f"status/{sid}").record

    def record_status(self, sid: str, status: str, error_code: str | None = None) -> bool:
        """Keep the furthest status Twilio reported for message `sid`; False if `status` came
        late (an earlier stage than the one stored) and was dropped."""
        if not is_message_sid(sid):
            raise ValueError("not a Twilio message SID")  # it names the record
        name = f"status/{sid}"
        rank = STATUS_ORDER.index(status) if status in STATUS_ORDER else -1
        for _ in range(WRITE_ATTEMPTS):
            current = self.read(name)
            stored = (current.record or {}).get("status")
            if stored in STATUS_ORDER and STATUS_ORDER.index(stored) >= rank:
                return False
            record = {
                "sid": sid,
                "status": status,
                "error_code": error_code,
                "updated_at": now_iso(),
            }
            try:
                self.write(name, record, current.etag)
                return True
            except (AlreadyExistsError, ObjectChangedError):
                continue  # another callback wrote first: compare again
        return False
