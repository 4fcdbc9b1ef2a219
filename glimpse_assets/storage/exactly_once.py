"""Post each day once per publisher, whatever crashes, retries, re-materialisations or concurrent
runs happen.

One ledger record per publisher and day, `_ledger/<publisher>/<day>.json`, and every write of it
is conditional (the object store's `create` / `replace(etag=)`), so two runs can never both think
they hold the day:

1. Claim. Before any outside call a run writes a `pending` claim with `create` (no record yet),
   or with `replace` from the version it read (a `not sent` record, a forced re-post, a crashed
   run's record). The claim names its `owner` (the Dagster run and step) and carries a lease
   (`claimed_at` + `lease_seconds`). Exactly one of several racing runs wins; the others re-read.
2. A run that finds the day `published` returns it ("already published") and sends nothing.
   One that finds it `pending` under another owner's live lease waits, polling the ledger, for
   that run's result (at most `wait_seconds`), then returns "already published" or fails,
   without retries, naming the run that is posting.
3. A `pending` record whose lease has expired (its run crashed), or that the same run and step
   left (a step retry), or that was released by a failed attempt, is taken over with
   `replace(etag)`; the publisher then says whether that attempt's post went out (`reconcile`):
   "published" -> record it, send nothing; "ready" -> finish the same attempt (e.g. publish the
   same Instagram container); "restart" -> start afresh; "unknown" (no way to ask, as with
   e-mail) -> stop and say so, rather than risk a second post.
4. The winner calls the publisher (`start`, record its state, `finish`) and writes `published`.
   Each of these writes is a `replace` from the version it wrote last: a run whose claim was
   taken over in the meantime (its lease ran out) is refused before it makes anything public.
   An attempt known to have sent nothing is recorded `not sent` (the next run starts afresh);
   any other failure releases the lease, keeping the record `pending` for reconciliation.

`force` posts again on purpose: it replaces the record it first read with a fresh claim. Only one
of several concurrent forced runs wins that replace; the others then behave as unforced runs (they
wait for the winner and return "already published"), so a forced re-post also goes out once.

A lease outlives a slow run only in the rare case the run takes longer than `lease_seconds`; the
taker then reconciles, which for Instagram means the same container (one post), for e-mail a stop
with "cannot tell", and for the outbox a harmless rewrite. Leases use wall-clock time, so hosts
sharing an S3 ledger need clocks within a small fraction of the lease of each other.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from typing import Any

import dagster as dg

from glimpse_assets.storage.object_store import AlreadyExistsError, ObjectChangedError
from glimpse_assets.storage.records import JsonRecords

# One JSON record per publisher and day, `_ledger/<publisher>/<day>.json`: `pending` from the
# claim until its result is written, then `published` (or `not sent`).
LEDGER_PREFIX = "_ledger"
LEASE_SECONDS = 600.0  # longer than any attempt: Instagram's polls take up to about 2 minutes
WAIT_SECONDS = 600.0  # how long a run waits for another run that is posting the same day
POLL_SECONDS = 2.0  # how often a waiting run re-reads the ledger
CLAIM_FIELDS = ("owner", "claimed_at", "lease_seconds")  # of the run, not of the day


# What a publisher raises, and what the ledger records for it: the errors are the ledger's, so
# any domain that posts once (the daily post, the SMS digest) speaks the same language, and the
# ledger knows no publisher.


class PublishError(RuntimeError):
    """The publisher refused the post or could not be reached; the message says which."""


class NothingSentError(PublishError):
    """The attempt failed before anything could reach anyone: safe to start again."""


class PublishRejectedError(dg.Failure):
    """Retrying the same post cannot help (bad token, bad input): fail without retries."""

    def __init__(self, description: str):
        super().__init__(description=description, allow_retries=False)


class RefusedBeforeSendingError(PublishRejectedError):
    """Refused before anything could reach anyone (login refused, certificate not trusted):
    nothing went out, so the next attempt starts afresh, but retrying as it is cannot help."""


class PublishUncertainError(dg.Failure):
    def __init__(self, description: str):
        super().__init__(description=description, allow_retries=False)


class PublishContendedError(dg.Failure):
    """Another run holds the day's claim: it is posting, or lost its claim to this one."""

    def __init__(self, description: str):
        super().__init__(description=description, allow_retries=False)


def lease_live(entry: dict[str, Any], now: float | None = None) -> bool:
    """Whether the record's claim still holds: a record without a lease (written before leases
    existed, or released) holds nothing."""
    try:
        until = float(entry["claimed_at"]) + float(entry["lease_seconds"])
    except (KeyError, TypeError, ValueError):
        return False
    return (time.time() if now is None else now) < until


class _Claim:
    """This run's hold on the record: every write is a replace from the version written last."""

    def __init__(self, ledger: JsonRecords, name: str, record: dict[str, Any], etag: str | None):
        self.ledger, self.name, self.record, self.etag = ledger, name, record, etag

    def write(self, lease_seconds: float | None = None, **changes: Any) -> dict[str, Any]:
        """Replace the record with `changes` (renewing the lease, or setting a new one), or
        raise `PublishContendedError` if another run took the claim over since."""
        record = {**self.record, **changes}
        if lease_seconds is not None:
            record.update(claimed_at=time.time(), lease_seconds=lease_seconds)
        try:
            self.etag = self.ledger.replace(self.name, record, self.etag)
        except ObjectChangedError:
            current = self.ledger.get(self.name) or {}
            raise PublishContendedError(
                f"the claim on {self.name} by {record.get('owner')} was taken over by "
                f"{current.get('owner') or 'another run'} (status {current.get('status')!r}) "
                "before this run could record its progress; nothing more is sent by this run"
            ) from None
        self.record = record
        return record

    def release(self, **changes: Any) -> None:
        """Give the lease up (the run stopped), so another run need not wait for it to expire."""
        with contextlib.suppress(Exception):  # best effort: the lease expires anyway
            self.write(lease_seconds=0, **changes)

    def publish(self, record: dict[str, Any]) -> dict[str, Any]:
        """Record the post that went out. If another run took the claim over meanwhile (this run
        outlived its lease), the post still went out: record it over the newer version unless
        that one already says published."""
        for _ in range(10):
            try:
                if self.etag is None:
                    self.etag = self.ledger.create(self.name, record)
                else:
                    self.etag = self.ledger.replace(self.name, record, self.etag)
                return record
            except (AlreadyExistsError, ObjectChangedError):
                current = self.ledger.get_versioned(self.name)
                if current is not None and current[0].get("status") == "published":
                    return current[0]
                self.etag = current[1] if current is not None else None
        raise PublishContendedError(f"could not record the post of {self.name}: too many writers")


def _claim(
    ledger: JsonRecords,
    name: str,
    base: dict[str, Any],
    force: bool,
    owner: str,
    lease_seconds: float,
    wait_seconds: float,
    poll_seconds: float,
) -> tuple[_Claim | None, dict[str, Any] | None]:
    """(the claim, the earlier attempt's record to reconcile or None), or (None, the published
    record) when another run has posted the day."""
    deadline = time.monotonic() + wait_seconds
    forcing = force
    while True:
        current = ledger.get_versioned(name)
        entry, etag = current if current else ({}, None)
        status = entry.get("status")
        if status == "pending" and entry.get("owner") != owner and lease_live(entry):
            forcing = False  # a run is posting right now: its post is the one forced
            left = deadline - time.monotonic()
            if left <= 0:
                raise PublishContendedError(
                    f"another run ({entry.get('owner') or 'unnamed'}) is posting {base['day']} "
                    f"with {base['publisher']}: it claimed the day and has not finished within "
                    f"{wait_seconds:g} s. Its result will be in {ledger.uri(name)}; materialise "
                    "the day again once it is done (or once its lease has expired)."
                )
            time.sleep(min(poll_seconds, left))
            continue
        if status == "published" and not forcing:
            return None, entry
        earlier = entry if status == "pending" and not forcing else None
        record = {
            **base,
            "status": "pending",
            "state": (earlier or {}).get("state") or {},
            "owner": owner,
            "claimed_at": time.time(),
            "lease_seconds": lease_seconds,
        }
        try:
            if etag is None:
                etag = ledger.create(name, record)
            else:
                etag = ledger.replace(name, record, etag)
        except (AlreadyExistsError, ObjectChangedError):
            forcing = False  # another run claimed first; if forced, its post is the forced one
            if time.monotonic() > deadline:
                raise PublishContendedError(
                    f"could not claim {base['day']} for {base['publisher']} within "
                    f"{wait_seconds:g} s: other runs kept writing {ledger.uri(name)}"
                ) from None
            continue
        if earlier is not None:
            earlier = {**earlier, **{key: record[key] for key in CLAIM_FIELDS}}
        return _Claim(ledger, name, record, etag), earlier


def publish_once(
    ledger: JsonRecords,
    publisher: Any,
    post: Any,
    force: bool = False,
    *,
    owner: str | None = None,
    lease_seconds: float = LEASE_SECONDS,
    wait_seconds: float = WAIT_SECONDS,
    poll_seconds: float = POLL_SECONDS,
) -> tuple[dict[str, Any], str]:
    """The ledger record for the day, and what this call did: "published", "already published"
    (this or another run had posted it), or "reconciled" (an earlier attempt had posted; now
    recorded). `owner` names the caller in the claim (the Dagster run and step; by default a
    name unique to this call), and a claim of the same owner is this caller's own."""
    owner = owner or f"process {os.getpid()} call {uuid.uuid4().hex[:12]}"
    kind, day = publisher.kind, post.day
    name = f"{kind}/{day}"
    if not force:  # the common case, without a write: posted already
        current = ledger.get(name)
        if current and current.get("status") == "published":
            return current, "already published"
    publisher.validate(post)  # before any outside call: tokens, sizes, caption
    base = {"publisher": kind, "day": day, "caption": post.caption}
    claim, earlier = _claim(
        ledger, name, base, force, owner, lease_seconds, wait_seconds, poll_seconds
    )
    if claim is None:
        return earlier, "already published"
    state = None
    try:
        if earlier is not None:
            verdict = publisher.reconcile(earlier.get("state") or {})
            if verdict == "published":
                record = {**earlier, "status": "published", "receipt": {"reconciled": True}}
                return claim.publish(record), "reconciled"
            if verdict == "unknown":
                raise PublishUncertainError(
                    f"an earlier attempt to post {day} with {kind} stopped after sending began, "
                    f"and {kind} cannot tell whether it went out. Check, then re-run with force "
                    "to post again."
                )
            if verdict == "ready":
                state = earlier.get("state") or {}
        if state is None:
            state = publisher.start(post)
            claim.write(lease_seconds=lease_seconds, state=state)  # refused if taken over
        receipt = publisher.finish(post, state)
    except (NothingSentError, RefusedBeforeSendingError):
        # Known not to have gone out (the SMTP server unreachable, the login refused...): the
        # next attempt starts afresh.
        claim.release(status="not sent", state=state or {})
        raise
    except PublishContendedError:
        raise  # the record is another run's now
    except Exception:
        claim.release()  # still pending: the next attempt reconciles without waiting
        raise
    record = {**claim.record, "status": "published", "state": state, "receipt": receipt}
    return claim.publish(record), "published"
