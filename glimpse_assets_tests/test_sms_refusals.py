"""sms_digest when one person's text cannot go: a number Twilio refuses (HTTP 400, 21408), a
garbage subscriber record, a garbage `_sms/salt.json`. Everyone else gets exactly one text, the
bad item is named (person id, key, code) and the step fails at the end; a re-run sends to nobody
twice. Through the local Twilio double, as test_sms_outbound."""

from __future__ import annotations

import json

import pytest

from glimpse_assets.sms.records import SmsRecords
from glimpse_assets.storage.exactly_once import LEDGER_PREFIX
from glimpse_assets_tests.support.failures import failure_text
from glimpse_assets_tests.support.sms import CAPTION, DAY, channel, send, stored
from glimpse_assets_tests.support.twilio_double import TwilioDouble

SIX = tuple(f"+1555987{n:04d}" for n in range(1, 7))


@pytest.fixture
def twilio():
    with TwilioDouble() as double:
        yield double


@pytest.fixture
def day_posted(local_store, local_io_manager):
    record = {"day": DAY, "caption": CAPTION, "publisher": "outbox", "status": "published"}
    local_store.store.put(f"social_post/{DAY}.json", json.dumps(record).encode())
    return record


def texts_by_number(twilio) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in twilio.messages:
        counts[message["to"]] = counts.get(message["to"], 0) + 1
    return counts


def assert_no_number_in(text: str) -> None:
    for number in SIX:
        assert number not in text and number.lstrip("+") not in text


def test_one_refused_number_does_not_stop_the_others(
    offline_resources, local_store, day_posted, twilio
):
    records = SmsRecords(local_store.store)
    order = sorted(SIX, key=records.person_id)  # the order the step sends in
    refused = order[1]
    twilio.refused[refused] = 21408
    sms_sender = channel(twilio, *SIX)

    first = send(offline_resources, sms_sender)

    # Everyone else got exactly one text; the refusal is on the person, with its code.
    assert texts_by_number(twilio) == {n: 1 for n in SIX if n != refused}
    assert not first.success
    message = failure_text(first)
    assert "1 refused" in message and records.person_id(refused) in message
    assert "21408" in message
    assert_no_number_in(message)
    assert records.subscriber(refused)["refused"]["code"] == 21408
    assert "status" not in records.subscriber(refused)  # its subscription is unchanged
    ledger = local_store.records(LEDGER_PREFIX)
    assert ledger.get(f"sms/{records.person_id(refused)}/{DAY}")["status"] == "not sent"

    # A re-run asks Twilio only for the refused person, and nobody gets a second text.
    posts = len(twilio.posts())
    again = send(offline_resources, sms_sender)
    assert not again.success and len(twilio.posts()) == posts + 1
    assert texts_by_number(twilio) == {n: 1 for n in SIX if n != refused}

    # Once Twilio takes the number (the region enabled), the next re-run sends it its one text.
    del twilio.refused[refused]
    last = send(offline_resources, sms_sender)
    assert last.success, failure_text(last)
    assert texts_by_number(twilio) == {n: 1 for n in SIX}
    people = stored(local_store)["people"]
    assert people[records.person_id(refused)]["action"] == "published"
    assert sorted(e["action"] for e in people.values()).count("already published") == 5


def test_a_garbage_subscriber_record_skips_only_that_person(
    offline_resources, local_store, storage_root, day_posted, twilio
):
    records = SmsRecords(local_store.store)
    unreadable = records.person_id(SIX[2])  # a configured number: it may have texted STOP
    folder = storage_root / "_sms" / "subscribers"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{unreadable}.json").write_bytes(b'{"number": "+1555987000')  # cut short
    (folder / "p-00000000000000000000.json").write_bytes(b"\x00\xff garbage")
    (folder / "p-11111111111111111111.json").write_text('["a list"]')

    result = send(offline_resources, channel(twilio, *SIX))

    assert texts_by_number(twilio) == {n: 1 for n in SIX if n != SIX[2]}
    assert not result.success
    message = failure_text(result)
    assert f"_sms/subscribers/{unreadable}.json" in message and "not JSON" in message
    assert "3 subscriber records" in message
    assert_no_number_in(message)


def test_a_garbage_salt_is_restored_from_its_copy_and_nobody_is_texted_twice(
    offline_resources, local_store, storage_root, day_posted, twilio
):
    sms_sender = channel(twilio, *SIX[:3])
    assert send(offline_resources, sms_sender).success
    ids = {n: SmsRecords(local_store.store).person_id(n) for n in SIX[:3]}
    salt = storage_root / "_sms" / "salt.json"
    salt.write_bytes(b'{"salt": "0f3')  # truncated

    again = send(offline_resources, sms_sender)

    assert again.success, failure_text(again)
    assert texts_by_number(twilio) == {n: 1 for n in SIX[:3]}  # the same ids: already sent
    assert {n: SmsRecords(local_store.store).person_id(n) for n in SIX[:3]} == ids
    assert json.loads(salt.read_text())["salt"]  # put back


def test_without_a_readable_salt_the_step_names_it_and_sends_nothing(
    offline_resources, local_store, storage_root, day_posted, twilio
):
    folder = storage_root / "_sms"
    folder.mkdir(parents=True)
    (folder / "salt.json").write_text('{"salt": "not hex"}')

    result = send(offline_resources, channel(twilio, *SIX[:2]))

    assert not result.success and twilio.requests == []
    message = failure_text(result)
    assert "_sms/salt.json" in message and "64 hex" in message
    assert (folder / "salt.json").read_text() == '{"salt": "not hex"}'  # kept as it was


def test_refused_credentials_stop_the_step_at_once_and_the_rerun_sends_to_all(
    offline_resources, local_store, day_posted, twilio
):
    from glimpse_assets_tests.support.twilio_double import twilio_error

    sms_sender = channel(twilio, *SIX[:3])
    twilio.fail_next(twilio_error(401, 20003, "Authenticate"))

    refused = send(offline_resources, sms_sender)

    assert not refused.success and "TWILIO_AUTH_TOKEN" in failure_text(refused)
    assert len(twilio.posts()) == 1 and twilio.messages == []  # nobody else is tried
    assert send(offline_resources, sms_sender).success
    assert texts_by_number(twilio) == {n: 1 for n in SIX[:3]}
