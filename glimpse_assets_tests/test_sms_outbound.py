"""sms_digest through a local double of Twilio's Messages API (the twilio SDK's own requests):
one text per subscriber and day whatever re-runs and crashes happen, 429 then success, 21610
and 21211 recorded and never retried, START and STOP followed, status callbacks and the
delivery check, and no phone number in any log line or stored object but the subscriber
records."""

from __future__ import annotations

import json
import logging
from email.utils import formatdate

import dagster as dg
import pytest

from glimpse_assets.partitions import daily_partitions
from glimpse_assets.sms.records import STOPPED, SUBSCRIBED, SmsRecords
from glimpse_assets.sms.sender import body_digest
from glimpse_assets.storage.exactly_once import LEDGER_PREFIX
from glimpse_assets_tests.support.sms import CAPTION, DAY, channel, send, stored
from glimpse_assets_tests.support.twilio_double import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    TwilioDouble,
    rate_limited,
    server_error,
)

ALICE, BOB, CAROL, DAVE = "+15551230001", "+15551230002", "+447700900003", "+15551230004"
NUMBERS = (ALICE, BOB, CAROL, DAVE)


@pytest.fixture
def twilio():
    with TwilioDouble() as double:
        yield double


@pytest.fixture
def day_posted(local_store, local_io_manager):
    """The day's social_post record as the news chain stores it."""
    record = {"day": DAY, "caption": CAPTION, "publisher": "outbox", "status": "published"}
    local_store.store.put(f"social_post/{DAY}.json", json.dumps(record).encode())
    return record


def test_two_materialisations_send_one_text_per_subscriber(
    offline_resources, local_store, day_posted, twilio
):
    sms_sender = channel(twilio, ALICE, BOB)
    first = send(offline_resources, sms_sender)
    again = send(offline_resources, sms_sender)

    assert first.success and again.success
    assert [m["to"] for m in twilio.messages].count(ALICE) == 1
    assert [m["to"] for m in twilio.messages].count(BOB) == 1
    assert {m["body"] for m in twilio.messages} == {CAPTION}
    assert {m["_status_callback"] for m in twilio.messages} == {
        "https://glimpse.example/sms/status"
    }
    people = stored(local_store)["people"]
    assert sorted(entry["action"] for entry in people.values()) == ["already published"] * 2
    metadata = first.asset_materializations_for_node("sms_digest")[0].metadata
    assert metadata["people_published"].value == 2
    assert metadata["kind"].value == "sms"  # no public URL for the picture: no MMS


def test_the_daily_text_is_the_posts_caption_and_its_link_not_the_image_prompt(
    offline_resources, local_store, twilio
):
    # The day's post made by the news chain and social_post (offline, through the outbox),
    # then texted: the caption written for readers and its story's link, one message.
    from glimpse_assets.news.assets import news_assets
    from glimpse_assets.publish.assets import social_post
    from glimpse_assets.publish.notifiers import LogNotifier
    from glimpse_assets.publish.publishers import OutboxPublisher
    from glimpse_assets.sms.sender import MAX_BODY_CHARS

    posting = {
        **offline_resources,
        "news_publisher": OutboxPublisher(object_store=local_store),
        "publish_notifier": LogNotifier(),
    }
    assert dg.materialize([*news_assets, social_post], partition_key=DAY, resources=posting).success
    post = json.loads(local_store.store.get(f"social_post/{DAY}.json"))
    prompt = json.loads(local_store.store.get(f"image_prompt/{DAY}.json"))["text"]

    assert send(offline_resources, channel(twilio, ALICE, BOB)).success

    (source,) = post["sources"]
    text = f"{post['caption_text']}\n{source['url']}"
    assert [m["body"] for m in twilio.messages] == [text, text]
    assert len(text) <= MAX_BODY_CHARS
    assert prompt not in text and "Style:" not in text and "#" not in text
    assert stored(local_store)["characters"] == len(text)


def test_the_day_so_far_texts_no_one(offline_resources, local_store, twilio):
    # Today's partition (the day so far): its post is held, and so is its text, sent by a run
    # once the day is over.
    today = daily_partitions.get_last_partition_key()
    record = {"day": today, "caption": CAPTION, "publisher": "outbox", "status": "held"}
    local_store.store.put(f"social_post/{today}.json", json.dumps(record).encode())

    result = send(offline_resources, channel(twilio, ALICE, BOB), day=today)

    assert result.success
    assert twilio.messages == []
    stored_day = json.loads(local_store.store.get(f"sms_digest/{today}.json"))
    assert (stored_day["channel"], stored_day["people"]) == ("held", {})
    assert not local_store.store.list(LEDGER_PREFIX)


def test_start_adds_and_stop_removes_a_subscriber(
    offline_resources, local_store, day_posted, twilio
):
    records = SmsRecords(local_store.store)
    records.set_subscriber(CAROL, SUBSCRIBED, "START")
    records.set_subscriber(BOB, STOPPED, "STOP")

    assert send(offline_resources, channel(twilio, ALICE, BOB)).success

    assert sorted(m["to"] for m in twilio.messages) == sorted([ALICE, CAROL])


def test_a_rate_limit_then_success_sends_once(offline_resources, local_store, day_posted, twilio):
    twilio.fail_next(rate_limited())

    assert send(offline_resources, channel(twilio, ALICE)).success

    assert len(twilio.posts()) == 2  # the 429, then the message
    assert len(twilio.sent_to(ALICE)) == 1


def test_unsubscribed_and_invalid_numbers_are_recorded_and_not_retried(
    offline_resources, local_store, day_posted, twilio
):
    twilio.unsubscribed.add(BOB)
    twilio.invalid.add(DAVE)
    sms_sender = channel(twilio, ALICE, BOB, DAVE)

    assert send(offline_resources, sms_sender).success
    posts_after_first = len(twilio.posts())
    assert send(offline_resources, sms_sender).success

    assert posts_after_first == 3  # one each; 21610 and 21211 are not retried
    assert len(twilio.posts()) == 3  # and the second run asks for nobody
    records = SmsRecords(local_store.store)
    assert records.subscriber(BOB)["status"] == "unsubscribed"
    assert records.subscriber(BOB)["reason"] == "twilio 21610"
    assert records.subscriber(DAVE)["status"] == "invalid"
    assert [m["to"] for m in twilio.messages] == [ALICE]


def test_a_server_error_twice_fails_loudly_and_the_rerun_sends_the_rest_once(
    offline_resources, local_store, day_posted, twilio
):
    sms_sender = channel(twilio, ALICE, BOB)
    people = SmsRecords(local_store.store)
    first_person = min((ALICE, BOB), key=people.person_id)
    twilio.fail_next(server_error(), server_error())  # the first person's call and its retry

    failed = send(offline_resources, sms_sender)
    assert not failed.success
    (failure,) = [e for e in failed.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "did not go to 1 of 2 people" in failure.step_failure_data.error.message

    assert send(offline_resources, sms_sender).success
    assert len(twilio.sent_to(first_person)) == 1
    assert sorted(m["to"] for m in twilio.messages) == sorted([ALICE, BOB])


def test_a_crash_between_the_send_and_the_record_does_not_send_twice(
    offline_resources, local_store, day_posted, twilio
):
    """Twilio accepted the text, then the run died before the ledger said so: the ledger holds a
    pending claim whose lease has run out. The next run asks Twilio and finds the text."""
    import time

    records = SmsRecords(local_store.store)
    person = records.person_id(ALICE)
    started = time.time() - 30
    ledger = local_store.records(LEDGER_PREFIX)
    ledger.create(
        f"sms/{person}/{DAY}",
        {
            "publisher": f"sms/{person}",
            "day": DAY,
            "caption": CAPTION,
            "status": "pending",
            "owner": "run crashed step sms_digest",
            "claimed_at": started,
            "lease_seconds": 1,
            "state": {"attempt": "a1", "started_at": started, "body_sha256": body_digest(CAPTION)},
        },
    )
    twilio.messages.append(  # what Twilio kept of the crashed run's text
        {
            "sid": "SM" + "f" * 32,
            "to": ALICE,
            "from": FROM_NUMBER,
            "body": CAPTION,
            "status": "delivered",
            "date_created": formatdate(started + 1, usegmt=True),
            "date_sent": None,
            "account_sid": ACCOUNT_SID,
            "_status_callback": None,
        }
    )

    assert send(offline_resources, channel(twilio, ALICE)).success

    assert twilio.posts() == []  # asked (GET), never sent again
    assert stored(local_store)["people"][person]["action"] == "reconciled"
    assert ledger.get(f"sms/{person}/{DAY}")["status"] == "published"


def test_the_channel_off_sends_nothing_and_blocks_nothing(
    offline_resources, local_store, day_posted, twilio
):
    result = send(offline_resources, channel(twilio, ALICE, enabled=False))

    assert result.success
    assert twilio.requests == []
    assert stored(local_store) == {"day": DAY, "channel": "off", "people": {}}


def test_on_but_unconfigured_fails_this_step_with_the_variables_named(
    offline_resources, local_store, day_posted, twilio
):
    result = send(offline_resources, channel(twilio, ALICE, auth_token=None, from_number=None))

    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.error.message
    assert "TWILIO_AUTH_TOKEN" in message and "TWILIO_FROM_NUMBER" in message
    assert twilio.requests == []


def test_undelivered_texts_make_the_delivery_check_warn(
    offline_resources, local_store, day_posted, twilio
):
    assert send(offline_resources, channel(twilio, ALICE, BOB)).success
    records = SmsRecords(local_store.store)
    for message in twilio.messages:
        final = "undelivered" if message["to"] == BOB else "delivered"
        assert records.record_status(message["sid"], "sent")
        assert records.record_status(
            message["sid"], final, "30003" if final != "delivered" else None
        )
        assert not records.record_status(message["sid"], "sent")  # late: dropped

    result = send(offline_resources, channel(twilio, ALICE, BOB), checks=True)

    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert records.person_id(BOB) in evaluation.description
    assert evaluation.metadata["status_delivered"].value == 1
    assert evaluation.metadata["status_undelivered"].value == 1


def test_no_phone_number_in_logs_events_or_stored_objects(
    offline_resources, local_store, storage_root, day_posted, twilio, caplog
):
    caplog.set_level(logging.DEBUG)
    twilio.unsubscribed.add(BOB)
    twilio.invalid.add(DAVE)
    records = SmsRecords(local_store.store)
    records.set_subscriber(CAROL, SUBSCRIBED, "START")
    twilio.fail_next(rate_limited())
    results = [send(offline_resources, channel(twilio, ALICE, BOB, DAVE), checks=True)]
    results.append(send(offline_resources, channel(twilio, ALICE, BOB, DAVE, auth_token=None)))

    texts = [record.getMessage() for record in caplog.records]
    for result in results:
        for event in result.all_events:
            texts.append(str(event.message))
            texts.append(repr(event.event_specific_data))
    for path in storage_root.rglob("*"):
        if path.is_file() and "_sms/subscribers" not in path.as_posix():
            texts.append(path.read_bytes().decode("utf-8", "replace"))
    everything = "\n".join(texts)
    for number in NUMBERS:
        assert number not in everything
        assert number.lstrip("+") not in everything
    assert len(twilio.messages) == 2  # Alice and Carol


def test_two_runs_at_once_send_one_text_per_person(
    offline_resources, local_store, day_posted, twilio
):
    import threading

    sms_sender = channel(twilio, ALICE, BOB, CAROL)
    results: list[dg.ExecuteInProcessResult] = []
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        results.append(send(offline_resources, sms_sender))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(results) == 2 and all(result.success for result in results)
    assert sorted(m["to"] for m in twilio.messages) == sorted([ALICE, BOB, CAROL])
    actions = sorted(entry["action"] for entry in stored(local_store)["people"].values())
    assert set(actions) <= {"published", "already published"}


@pytest.mark.process
def test_signed_status_callbacks_reach_glimpse_serve_and_the_check_reads_them(
    offline_resources, local_store, storage_root, day_posted, twilio
):
    from glimpse_assets_tests.support.serve_process import serve_process

    public = "https://glimpse.example"
    twilio.undeliverable.add(BOB)
    assert send(offline_resources, channel(twilio, ALICE, BOB, public_url=public)).success
    env = {
        "GLIMPSE_STORAGE_URI": str(storage_root),
        "GLIMPSE_API_KEYS": "sms-status-key-0123456789",
        "GLIMPSE_SMS": "on",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "GLIMPSE_PUBLIC_URL": public,
    }
    with serve_process(env) as service:
        answered = twilio.send_callbacks(reach=service.url)
        output = service.output()

    assert answered == [204] * 4  # sent, then delivered or undelivered, for each of two
    records = SmsRecords(local_store.store)
    statuses = sorted(records.message_status(m["sid"])["status"] for m in twilio.messages)
    assert statuses == ["delivered", "undelivered"]
    for number in (ALICE, BOB):
        assert number not in output and number.lstrip("+") not in output

    result = send(offline_resources, channel(twilio, ALICE, BOB, public_url=public), checks=True)
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed and records.person_id(BOB) in evaluation.description
