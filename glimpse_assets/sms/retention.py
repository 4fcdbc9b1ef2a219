"""How long what grows one object a message is kept, and the daily pass that removes the rest.

* `_sms/replies/<sid>.json`: 7 days. They exist for Twilio's retries of a webhook (seconds to
  minutes) and a claim's life (`inbound.CLAIM_SECONDS`); a week covers both many times over. A
  replayed keyword older than that is still recognised, by its subscriber record
  (`records.KEYWORD_SIDS`), which is not pruned.
* `_sms/status/<sid>.json`: 35 days. The delivery check reads them right after the day's run
  and on re-runs of recent days; a re-run of an older day's check counts its texts as
  `no callback yet`.

`glimpse serve` (the writer of both) runs `prune` when it starts and then once a day. Several
processes on one storage share the pass: the one that moves `_sms/retention.json` on (a
conditional write) prunes, the others find today's pass done. A record's age is the time stamp
in it (the store lists keys without times); a record without a readable one is garbage, named
in the log and removed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from glimpse_assets.sms.records import SmsRecords
from glimpse_assets.storage.object_store import AlreadyExistsError, ObjectChangedError

log = logging.getLogger("uvicorn.error.sms")

KEPT = {
    "replies": (timedelta(days=7), ("answered_at", "claimed_at")),
    "status": (timedelta(days=35), ("updated_at",)),
}
PASS_RECORD = "retention"
EVERY = timedelta(days=1)
CHECK_SECONDS = 3600.0  # how often a process looks whether the day's pass is due


def _when(record: dict, fields: tuple[str, ...]) -> datetime | None:
    for field in fields:
        try:
            when = datetime.fromisoformat(str(record.get(field)))
        except ValueError:
            continue
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    return None


def prune(records: SmsRecords, now: datetime) -> dict[str, int]:
    """Remove the reply and status records older than they are kept (and garbage ones); how
    many of each were removed."""
    removed: dict[str, int] = {}
    for folder, (kept, fields) in KEPT.items():
        removed[folder] = 0
        for name in records.records.names(folder):
            stored = records.read(name)
            if stored.etag is None:
                continue  # gone meanwhile
            when = _when(stored.record, fields) if stored.record is not None else None
            if when is None:
                problem = stored.problem or "no time stamp in it"
                log.warning("sms retention: %s is %s: removed", records.key(name), problem)
            elif now - when <= kept:
                continue
            records.delete(name)
            removed[folder] += 1
    return removed


def claim_pass(records: SmsRecords, now: datetime) -> bool:
    """Whether this process runs today's pass: True once a day across processes."""
    stored = records.read(PASS_RECORD)
    last = _when(stored.record or {}, ("started_at",))
    if last is not None and now - last < EVERY - timedelta(hours=1):
        return False
    try:
        records.write(PASS_RECORD, {"started_at": now.isoformat(timespec="seconds")}, stored.etag)
    except (AlreadyExistsError, ObjectChangedError):
        return False  # another process claimed it first
    return True


def run_once(records: SmsRecords, now: datetime) -> None:
    if not claim_pass(records, now):
        return
    removed = prune(records, now)
    log.info(
        "sms retention: removed %d SMS replies and %d delivery statuses (kept %d and %d days)",
        removed["replies"],
        removed["status"],
        KEPT["replies"][0].days,
        KEPT["status"][0].days,
    )


def start_daily(
    records: SmsRecords,
    check_seconds: float = CHECK_SECONDS,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> threading.Thread:
    """A daemon thread of the service: the pass now (if due), then whenever it is due."""

    def loop() -> None:
        while True:
            try:
                run_once(records, now())
            except Exception as error:  # the storage may be away: the next check tries again
                log.warning("sms retention: pass not done (%s)", type(error).__name__)
            time.sleep(check_seconds)

    thread = threading.Thread(target=loop, name="sms-retention", daemon=True)
    thread.start()
    return thread
