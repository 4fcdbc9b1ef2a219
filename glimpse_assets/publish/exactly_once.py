"""Post each day once per publisher, whatever crashes, retries or re-materialisations happen.

1. A `published` ledger record: nothing is sent again (unless `force`).
2. A `pending` record: an earlier attempt stopped between the outside call and the ledger
   write. The publisher says whether the post went out (`reconcile`): "published" -> record it,
   send nothing; "ready" -> finish the same attempt (e.g. publish the same Instagram container);
   "restart" -> start afresh; "unknown" (no way to ask, as with e-mail) -> stop and say so,
   rather than risk a second post.
3. Otherwise: write `pending` with the attempt's state, call, then write `published`; an
   attempt known to have sent nothing is recorded `not sent`, and the next run starts afresh.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from glimpse_assets.publish.publishers import NothingSentError
from glimpse_assets.storage.records import JsonRecords

# One JSON record per publisher and day, `_ledger/<publisher>/<day>.json`: `pending` from just
# before the outside call until its result is written, then `published`.
LEDGER_PREFIX = "_ledger"


class PublishUncertainError(dg.Failure):
    def __init__(self, description: str):
        super().__init__(description=description, allow_retries=False)


def publish_once(
    ledger: JsonRecords, publisher: Any, post: Any, force: bool = False
) -> tuple[dict[str, Any], str]:
    """The ledger record for the day, and what this call did: "published", "already published",
    or "reconciled" (an earlier attempt had posted; now recorded)."""
    kind, day = publisher.kind, post.day
    name = f"{kind}/{day}"
    entry = None if force else ledger.get(name)
    if entry and entry.get("status") == "published":
        return entry, "already published"
    state = None
    if entry and entry.get("status") == "pending":
        verdict = publisher.reconcile(entry["state"])
        if verdict == "published":
            record = {**entry, "status": "published", "receipt": {"reconciled": True}}
            ledger.put(name, record)
            return record, "reconciled"
        if verdict == "unknown":
            raise PublishUncertainError(
                f"an earlier attempt to post {day} with {kind} stopped after sending began, and "
                f"{kind} cannot tell whether it went out. Check, then re-run with force to post "
                "again."
            )
        if verdict == "ready":
            state = entry["state"]
    publisher.validate(post)  # before any outside call: tokens, sizes, caption
    base = {"publisher": kind, "day": day, "caption": post.caption}
    if state is None:
        ledger.put(name, {**base, "status": "pending", "state": {}})
        state = publisher.start(post)
        ledger.put(name, {**base, "status": "pending", "state": state})
    try:
        receipt = publisher.finish(post, state)
    except NothingSentError:
        # Known not to have gone out (e.g. the SMTP server was unreachable): a retry starts afresh.
        ledger.put(name, {**base, "status": "not sent", "state": state})
        raise
    record = {**base, "status": "published", "state": state, "receipt": receipt}
    ledger.put(name, record)
    return record, "published"
