"""One day of `sms_digest` and of its check: what `sms.assets` runs for every day a run covers.

One person's text never stops the others': whatever goes wrong for a person (Twilio refuses the
number, Twilio is unreachable, the ledger cannot be written, their subscriber record is garbage)
is recorded for that person and the next one is sent to. The step fails at the end, naming how
many did not get the text and why (person ids, codes, keys), and a re-run of the day sends only
to them: those already sent are `already published` in the ledger, and those Twilio reports
unsubscribed or not textable are left out for good (see `sms.sender`). Only what concerns
everyone stops the step at once: no readable salt (nobody can be named), a text Twilio cannot
take, the account's credentials refused.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any
from urllib.parse import quote

import dagster as dg

from glimpse_assets.partitions import HELD, day_is_over
from glimpse_assets.publish.caption import web_link
from glimpse_assets.ranges import add_day_metadata
from glimpse_assets.sms.records import UNDELIVERED, BadRecordError, SmsRecords
from glimpse_assets.sms.resources import SmsSenderResource
from glimpse_assets.sms.sender import (
    AccountRefusedError,
    NumberRefusedError,
    RecipientRefusedError,
    SmsDelivery,
    SmsPost,
    check_post,
    digest_body,
)
from glimpse_assets.storage.exactly_once import publish_once
from glimpse_assets.storage.object_store import ObjectStore, S3ObjectStore
from glimpse_assets.storage.records import JsonRecords


def image_url(store: ObjectStore, channel: SmsSenderResource, day: str) -> str | None:
    """A URL Twilio can fetch the day's picture from, if there is one."""
    key = f"news_image/{day}.png"
    if channel.public_base_url:
        return f"{channel.public_base_url.rstrip('/')}/{key}"
    if isinstance(store, S3ObjectStore) and store.exists(key):
        return store.presigned_url(key, seconds=7 * 86_400)
    return None


def daily_text(social_post: dict[str, Any]) -> str:
    """The day's text: the caption written for readers and the link of the story it was written
    from, within one message's length (`digest_body`). A post stored before it had a caption
    of its own (only `caption`) is sent as it was posted."""
    text = social_post.get("caption_text")
    if not text:
        return digest_body(social_post["caption"])
    links = [s["url"] for s in social_post.get("sources") or [] if web_link(s.get("url"))]
    return digest_body("\n".join([text, *links[:1]]))


def send_day(
    context: dg.AssetExecutionContext,
    channel: SmsSenderResource,
    store: ObjectStore,
    ledger: JsonRecords,
    owner: str,
    day: date,
    social_post: dict[str, Any],
) -> dict[str, Any]:
    """The day's caption (and picture) to every subscriber once; what happened to each, by
    person id."""
    if not channel.enabled:
        add_day_metadata(context, {"channel": "off", "sent": 0})
        return {"day": day.isoformat(), "channel": "off", "people": {}}
    if not day_is_over(day) or social_post.get("status") == "held":
        # The day so far (today's partition): texted once a run after the day ends.
        add_day_metadata(context, {"channel": "held", "sent": 0, "held_because": HELD})
        return {"day": day.isoformat(), "channel": "held", "held_because": HELD, "people": {}}
    missing = channel.missing()
    if missing:
        raise dg.Failure(
            description=f"GLIMPSE_SMS=on but {', '.join(missing)} not set: nothing was sent",
            allow_retries=False,
        )
    records = SmsRecords(store)
    try:
        records.salt()
    except BadRecordError as error:
        raise dg.Failure(
            description=f"nothing was sent for {day}: {error}", allow_retries=False
        ) from None
    media = image_url(store, channel, day.isoformat())
    post = SmsPost(day.isoformat(), daily_text(social_post), media)
    check_post(post)
    client = channel.client()
    audience = records.audience(channel.configured_subscribers())
    people: dict[str, dict[str, Any]] = {
        person: {"action": "skipped", "error": problem}
        for person, problem in audience.unreadable.items()
    }
    for number in audience.numbers:
        person = records.person_id(number)
        delivery = SmsDelivery(
            client,
            number,
            person,
            channel.from_number,
            channel.messaging_service_sid,
            channel.status_callback,
        )
        people[person] = send_one(records, ledger, delivery, post, owner)
    actions = Counter(entry["action"] for entry in people.values())
    add_day_metadata(
        context,
        {
            "channel": "twilio",
            "kind": "mms" if media else "sms",
            "characters": len(post.caption),
            "recipients": len(people),
            **{f"people_{action.replace(' ', '_')}": n for action, n in sorted(actions.items())},
        },
    )
    problem = not_sent(day, people)
    if problem:
        raise dg.Failure(description=problem, allow_retries=False)
    return {
        "day": day.isoformat(),
        "channel": "twilio",
        "kind": "mms" if media else "sms",
        "characters": len(post.caption),
        "people": people,
    }


def send_one(
    records: SmsRecords, ledger: JsonRecords, delivery: SmsDelivery, post: SmsPost, owner: str
) -> dict[str, Any]:
    """What happened to one person's text; raises only when no one's text can go
    (`AccountRefusedError`)."""
    try:
        record, action = publish_once(ledger, delivery, post, owner=owner)
    except RecipientRefusedError as refused:  # final: left out from now on
        entry = {"action": refused.status, "code": refused.code}
        return _noted(
            entry, records.set_subscriber, delivery, refused.status, f"twilio {refused.code}"
        )
    except NumberRefusedError as refused:  # `not sent`: a re-run tries it again
        entry = {"action": "refused", "code": refused.code}
        return _noted(entry, records.note_refusal, delivery, refused.code, post.day)
    except AccountRefusedError:
        raise
    except Exception as error:  # pending or not sent: the next attempt reconciles it
        return {"action": "failed", "error": _scrubbed(error, delivery)}
    receipt = record.get("receipt") or {}
    return {"action": action, "sid": receipt.get("sid")}


def _noted(entry: dict[str, Any], note: Any, delivery: SmsDelivery, *args: Any) -> dict[str, Any]:
    """`entry`, once `note(number, *args)` has kept it on the subscriber's record (or the
    entry says why it could not)."""
    try:
        note(delivery.number, *args)
    except Exception as error:
        entry["error"] = f"not recorded on the subscriber: {_scrubbed(error, delivery)}"
    return entry


def _scrubbed(error: BaseException, delivery: SmsDelivery, limit: int = 300) -> str:
    """An error in one line, its number (in any spelling) replaced by the person id."""
    text = " ".join(f"{type(error).__name__}: {error}".split())
    for spelling in (quote(delivery.number, safe=""), delivery.number, delivery.number[1:]):
        text = text.replace(spelling, delivery.person)
    return text[:limit]


def not_sent(day: date, people: dict[str, dict[str, Any]]) -> str | None:
    """Why the day's text did not go to everyone, or None when it did."""
    found: dict[str, list[str]] = {"refused": [], "failed": [], "skipped": []}
    for person, entry in sorted(people.items()):
        if entry["action"] == "refused":
            found["refused"].append(f"{person} (code {entry.get('code')})")
        elif entry["action"] == "failed":
            found["failed"].append(f"{person} ({entry.get('error')})")
        elif entry["action"] == "skipped":
            found["skipped"].append(str(entry.get("error")))
    count = sum(len(items) for items in found.values())
    if not count:
        return None
    sentences = [f"The text for {day} did not go to {count} of {len(people)} people."]
    for action, what in (
        ("refused", "refused by Twilio"),
        ("failed", "failed"),
        ("skipped", "subscriber records unreadable, their people left out"),
    ):
        items = found[action]
        if items:
            shown = "; ".join(items[:5]) + ("; ..." if len(items) > 5 else "")
            sentences.append(f"{len(items)} {what}: {shown}.")
    sentences.append("Re-run the day to try them again (those sent are not sent again).")
    if found["skipped"]:
        sentences.append("Fix or remove an unreadable record first: it may have held a STOP.")
    return " ".join(sentences)


def delivery_check(day: str, sms_digest: dict[str, Any], store: ObjectStore) -> dg.AssetCheckResult:
    """Every text of the day that Twilio has a message for, by its latest status callback."""
    records = SmsRecords(store)
    statuses: Counter[str] = Counter()
    undelivered: list[str] = []
    for person, entry in sorted((sms_digest.get("people") or {}).items()):
        sid = entry.get("sid")
        if not sid:
            continue
        status = (records.message_status(sid) or {}).get("status") or "no callback yet"
        statuses[status] += 1
        if status in UNDELIVERED:
            undelivered.append(person)
    return dg.AssetCheckResult(
        passed=not undelivered,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{len(undelivered)} undelivered ({', '.join(undelivered[:5])})"
            if undelivered
            else f"{sum(statuses.values())} texts, none reported undelivered"
        ),
        metadata={f"status_{s.replace(' ', '_')}": n for s, n in sorted(statuses.items())},
    )
