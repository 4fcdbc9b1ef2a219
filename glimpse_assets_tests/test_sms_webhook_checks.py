"""What a signed webhook post must carry, and what stored garbage must not break, on a real
`glimpse serve` (offline, no index needed): a well-formed MessageSid and our own AccountSid on
every post (a captured START re-split so that FromZip absorbs MessageSid is refused, and so is
a replay of an old START after `_sms/replies/` is cleaned), `/sms/status` checks MessageSid as
`/sms/inbound` does, and a garbage `_sms/salt.json`, reply or status record gets no 500."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from twilio.request_validator import RequestValidator

from glimpse_assets.sms.inbound import HELP_REPLY, START_REPLY, STOP_REPLY
from glimpse_assets.sms.records import SmsRecords
from glimpse_assets.storage.object_store import open_object_store
from glimpse_assets_tests.support.serve_process import serve_process
from glimpse_assets_tests.support.sms import (
    INBOUND,
    PUBLIC_URL,
    STATUS,
    TOKEN,
    env_at,
    reply_of,
)
from glimpse_assets_tests.support.twilio_signing import (
    inbound_params,
    message_sid,
    signed_headers,
    status_params,
)

pytestmark = pytest.mark.process


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sms-checks") / "storage"


@pytest.fixture(scope="module")
def service(root):
    with serve_process(env_at(str(root))) as running:
        yield running


def post(service, params: dict[str, str], path: str = INBOUND, signed_as=None) -> httpx.Response:
    headers = signed_headers(TOKEN, PUBLIC_URL + path, signed_as or params)
    with httpx.Client(base_url=service.url, timeout=30) as client:
        return client.post(path, data=params, headers=headers)


def records_at(root: Path) -> SmsRecords:
    return SmsRecords(open_object_store(str(root)))


def assert_refused(response: httpx.Response, status: int, field: str, *values: str) -> None:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert field in detail and "\n" not in detail
    for value in values:
        assert value not in response.text and quote(value, safe="") not in response.text


def resplit(params: dict[str, str]) -> dict[str, str]:
    """The same signed string with MessageSid and SmsSid folded into the values before them:
    Twilio signs the sorted names and values concatenated, so the signature still holds."""
    attack = dict(params)
    sid = attack.pop("MessageSid")
    attack["FromZip"] += f"MessageSid{sid}"
    attack["SmsMessageSid"] += f"SmsSid{attack.pop('SmsSid')}"
    return attack


# -- item 9: the message and the account must be Twilio's and ours --------------------------


def test_a_resplit_start_without_its_message_sid_is_refused(service, root):
    sender = "+15553330001"
    start = inbound_params(sender, "START")
    assert reply_of(post(service, start)) == START_REPLY
    assert reply_of(post(service, inbound_params(sender, "STOP"))) == STOP_REPLY
    attack = resplit(start)
    validator = RequestValidator(TOKEN)
    signature = signed_headers(TOKEN, PUBLIC_URL + INBOUND, start)["X-Twilio-Signature"]
    assert validator.validate(PUBLIC_URL + INBOUND, attack, signature)  # still signed

    response = post(service, attack, signed_as=start)

    assert_refused(response, 400, "MessageSid", sender, start["MessageSid"])
    assert records_at(root).subscriber(sender)["status"] == "stopped"


def test_a_post_for_another_account_or_without_one_is_refused(service, root):
    sender = "+15553330002"
    other = inbound_params(sender, "START", AccountSid="AC" + "f" * 32)
    malformed = inbound_params(sender, "START", AccountSid="AC123")
    missing = {k: v for k, v in inbound_params(sender, "START").items() if k != "AccountSid"}
    bad_sids = [
        inbound_params(sender, "START", sid=sid) for sid in ("../x", "SM" + "0" * 31, "a/b")
    ]

    assert_refused(post(service, other), 403, "AccountSid", sender, other["AccountSid"])
    for params in (malformed, missing):
        assert_refused(post(service, params), 400, "AccountSid", sender)
    for params in bad_sids:
        assert_refused(post(service, params), 400, "MessageSid", sender)
    assert records_at(root).subscriber(sender) is None


def test_a_replayed_start_is_not_applied_after_the_replies_are_cleaned(service, root):
    sender = "+15553330003"
    start = inbound_params(sender, "START")
    assert reply_of(post(service, start)) == START_REPLY
    assert reply_of(post(service, inbound_params(sender, "STOP"))) == STOP_REPLY
    shutil.rmtree(root / "_sms" / "replies")  # what a retention rule does, days later

    with serve_process(env_at(str(root))) as later:  # nothing of it in a process's memory
        replayed = post(later, start)
        assert replayed.status_code in (200, 409)
        assert records_at(root).subscriber(sender)["status"] == "stopped"
        # A new START (a new message) still subscribes.
        assert reply_of(post(later, inbound_params(sender, "START"))) == START_REPLY
    assert records_at(root).subscriber(sender)["status"] == "subscribed"


# -- item 14: /sms/status checks MessageSid as /sms/inbound does ------------------------------


@pytest.mark.parametrize("sid", ["../salt", ".hidden", "S" * 300, "a/b", "SM" + "0" * 32 + "/x"])
def test_a_status_callback_with_a_bad_message_sid_is_refused_and_stores_nothing(service, root, sid):
    (root / "_sms").mkdir(parents=True, exist_ok=True)
    records_at(root).salt()
    before = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    salt = (root / "_sms" / "salt.json").read_bytes()

    response = post(service, status_params(sid, "delivered", "+15553330004"), path=STATUS)

    assert_refused(response, 400, "MessageSid", "+15553330004", sid)
    after = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert after == before and (root / "_sms" / "salt.json").read_bytes() == salt


def test_a_status_callback_with_an_unknown_status_is_refused(service, root):
    sid = message_sid()
    response = post(service, status_params(sid, "x" * 500, "+15553330005"), path=STATUS)
    assert_refused(response, 400, "MessageStatus", "x" * 500)
    assert records_at(root).message_status(sid) is None


# -- item 10: garbage stored records ---------------------------------------------------------


def test_garbage_reply_and_status_records_are_replaced_not_a_500(service, root):
    sid, sent = message_sid(), "SM" + "e" * 32
    for folder, name in (("replies", sid), ("status", sent)):
        (root / "_sms" / folder).mkdir(parents=True, exist_ok=True)
        (root / "_sms" / folder / f"{name}.json").write_bytes(b"\x00{not json")

    assert reply_of(post(service, inbound_params("+15553330006", "HELP", sid=sid))) == HELP_REPLY
    response = post(service, status_params(sent, "delivered", "+15553330006"), path=STATUS)

    assert response.status_code == 204, response.text
    assert records_at(root).message_status(sent)["status"] == "delivered"
    stored = json.loads((root / "_sms" / "replies" / f"{sid}.json").read_text())
    assert stored["reply"] == HELP_REPLY


def test_a_garbage_salt_with_its_copy_is_restored_and_stop_works(tmp_path):
    root = tmp_path / "storage"
    records = records_at(root)
    sender = "+15553330007"
    person = records.person_id(sender)
    (root / "_sms" / "salt.json").write_bytes(b'{"salt": "9a')  # truncated

    with serve_process(env_at(str(root))) as running:
        stopped = post(running, inbound_params(sender, "STOP"))

    assert reply_of(stopped) == STOP_REPLY
    record = records_at(root).subscriber(sender)
    assert (record["person"], record["status"]) == (person, "stopped")
    assert json.loads((root / "_sms" / "salt.json").read_text())["salt"]  # put back


def test_without_a_readable_salt_every_text_gets_a_reply_and_the_key_is_named(tmp_path):
    root = tmp_path / "storage"
    (root / "_sms").mkdir(parents=True)
    (root / "_sms" / "salt.json").write_text("[]")
    sender = "+15553330008"

    with serve_process(env_at(str(root))) as running:
        stop = post(running, inbound_params(sender, "STOP"))
        help_ = post(running, inbound_params(sender, "HELP"))
        question = post(running, inbound_params(sender, "What happened at the harbour?"))
        output = running.output()

    assert "STOP" in reply_of(stop) and reply_of(stop) != STOP_REPLY  # asked to send it again
    assert reply_of(help_) == HELP_REPLY
    assert reply_of(question)
    assert "_sms/salt.json" in output
    assert sender not in output and sender.lstrip("+") not in output
    assert (root / "_sms" / "salt.json").read_text() == "[]"  # kept for whoever restores it
