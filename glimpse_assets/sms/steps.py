"""One day of `sms_digest` and of its check: what `sms.assets` runs for every day a run covers."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import dagster as dg

from glimpse_assets.partitions import HELD, day_is_over
from glimpse_assets.publish.exactly_once import publish_once
from glimpse_assets.publish.publishers import PublishError
from glimpse_assets.ranges import add_day_metadata
from glimpse_assets.sms.records import UNDELIVERED, SmsRecords
from glimpse_assets.sms.resources import SmsSenderResource
from glimpse_assets.sms.sender import RecipientRefusedError, SmsDelivery, SmsPost, digest_body
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
    media = image_url(store, channel, day.isoformat())
    post = SmsPost(day.isoformat(), digest_body(social_post["caption"]), media)
    client = channel.client()
    people: dict[str, dict[str, Any]] = {}
    failed: list[str] = []
    for number in records.recipients(channel.configured_subscribers()):
        person = records.person_id(number)
        delivery = SmsDelivery(
            client,
            number,
            person,
            channel.from_number,
            channel.messaging_service_sid,
            channel.status_callback,
        )
        try:
            record, action = publish_once(ledger, delivery, post, owner=owner)
        except RecipientRefusedError as refused:
            records.set_subscriber(number, refused.status, f"twilio {refused.code}")
            people[person] = {"action": refused.status, "code": refused.code}
            continue
        except PublishError as error:  # still pending: the next attempt reconciles it
            failed.append(person)
            people[person] = {"action": "failed", "error": str(error)}
            continue
        receipt = record.get("receipt") or {}
        people[person] = {"action": action, "sid": receipt.get("sid")}
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
    if failed:
        raise dg.Failure(
            description=f"the text for {day} did not go to {len(failed)} of {len(people)} "
            f"people ({', '.join(failed[:5])}); re-run the day to send the rest (those sent "
            "are not sent again)",
            allow_retries=False,
        )
    return {
        "day": day.isoformat(),
        "channel": "twilio",
        "kind": "mms" if media else "sms",
        "characters": len(post.caption),
        "people": people,
    }


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
