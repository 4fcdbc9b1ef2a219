"""Twilio's webhooks on a real `glimpse serve` (a process on a free loopback port), posted as
Twilio posts them and signed with twilio's own `RequestValidator.compute_signature`.

Offline (the extractive answer) and with a local OpenAI-compatible server as the model
(`FakeOpenAI`, counting its requests): the signature check (every parameter, unknown ones
included; a tampered body, a wrong URL, no header -> 403; an oversized body -> 413), questions
answered from a materialised day's articles, HELP/START/STOP and their synonyms, delivery
statuses, a retried MessageSid answered once (in one process, while the first is still being
answered, and from a second process on the same storage), a model slower than the deadline,
the per-sender rate limit, a follow-up with its history in the prompt. At the end, every log
line of every process and every stored object is searched for the phone numbers and the
messages used. The logic without HTTP (no index, the memory's expiry, the limit's window) is
tested on `InboundSms` with a fake clock.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import httpx
import pytest

from glimpse_assets.sms.answers import MAX_REPLY_CHARS, extractive_answer
from glimpse_assets.sms.conversation import ConversationMemory
from glimpse_assets.sms.inbound import (
    HELP_REPLY,
    NO_INDEX_REPLY,
    START_REPLY,
    STOP_REPLY,
    InboundSms,
    keyword,
)
from glimpse_assets.sms.records import SmsRecords
from glimpse_assets.sms.webhook import WebhookError
from glimpse_assets.storage.object_store import open_object_store
from glimpse_assets_tests.support.fake_openai import CHAT, FakeOpenAI, answer, slow
from glimpse_assets_tests.support.serve_process import index_sample_day, run_glimpse, serve_process
from glimpse_assets_tests.support.sms import KEY, PUBLIC_URL, TOKEN, env_at
from glimpse_assets_tests.support.twilio_signing import (
    inbound_params,
    message_sid,
    signed_headers,
    status_params,
)

INBOUND = "/sms/inbound"
DAY = "2026-03-02"
HONEY = "Honey Harvest Begins at Rooftop Hives Above the Quillhaven Library"
HONEY_QUESTION = "Who is harvesting honey from beehives?"
ORCHID = "Botanists Find a Rare Blue Orchid Flowering in the Silverbeck Gorge"

# Every number and message the tests send, for the search at the end.
NUMBERS: set[str] = set()
KEYWORD_NUMBERS: set[str] = set()  # texted START or STOP: their subscriber record holds them
MESSAGES: set[str] = set()
SERVICES: list = []


def number(n: int) -> str:
    value = f"+1555{n:07d}"
    NUMBERS.add(value)
    return value


def openai_env(root: str, fake: FakeOpenAI, **extra: str) -> dict[str, str]:
    return env_at(
        root,
        GLIMPSE_PROVIDER="openai",
        OPENAI_API_KEY="sk-test-sms-0123456789",
        OPENAI_BASE_URL=fake.base_url,
        **extra,
    )


def post(service, params: dict[str, str], path: str = INBOUND, **headers: str) -> httpx.Response:
    signed = signed_headers(TOKEN, PUBLIC_URL + path, params)
    with httpx.Client(base_url=service.url, timeout=60) as client:
        return client.post(path, data=params, headers={**signed, **headers})


def ask(service, sender: str, body: str, sid: str | None = None) -> str:
    """The reply's text to a signed post of `body` from `sender`."""
    MESSAGES.add(body)
    response = post(service, inbound_params(sender, body, sid=sid))
    assert response.status_code == 200, response.text
    return message_of(response)


def message_of(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.text)
    assert root.tag == "Response"
    (message,) = root.findall("Message")
    return message.text or ""


def records_at(root: str) -> SmsRecords:
    return SmsRecords(open_object_store(root))


@pytest.fixture(scope="module")
def indexed_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("sms") / "storage")
    index_sample_day(root, DAY)
    return root


@pytest.fixture(scope="module")
def offline(indexed_root):
    with serve_process(env_at(indexed_root)) as service:
        SERVICES.append(service)
        yield service


@pytest.fixture(scope="module")
def fake():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def with_model(indexed_root, fake):
    with serve_process(openai_env(indexed_root, fake)) as service:
        SERVICES.append(service)
        yield service


# -- the signature ------------------------------------------------------------------------


@pytest.mark.process
def test_a_signed_post_with_every_twilio_parameter_and_an_unknown_one_gets_twiml(offline):
    params = inbound_params(number(1), HONEY_QUESTION, AddOns='{"status": "successful"}')
    params["SomeFutureTwilioParameter"] = "yes"
    MESSAGES.add(HONEY_QUESTION)

    response = post(offline, params)

    assert response.status_code == 200
    text = message_of(response)
    assert 0 < len(text) <= MAX_REPLY_CHARS
    assert response.text.startswith('<?xml version="1.0" encoding="UTF-8"?><Response><Message>')


@pytest.mark.process
def test_a_tampered_body_a_wrong_url_or_no_signature_gets_403(offline):
    sender = number(2)
    params = inbound_params(sender, "What opened at the clinic?")
    signed = signed_headers(TOKEN, PUBLIC_URL + INBOUND, params)
    with httpx.Client(base_url=offline.url, timeout=30) as client:
        tampered = client.post(
            INBOUND, data={**params, "Body": "What opened at the library?"}, headers=signed
        )
        dropped = client.post(
            INBOUND, data={k: v for k, v in params.items() if k != "FromCity"}, headers=signed
        )
        added = client.post(INBOUND, data={**params, "Extra": "1"}, headers=signed)
        wrong_url = client.post(
            INBOUND,
            data=params,
            headers=signed_headers(TOKEN, "https://other.example.org" + INBOUND, params),
        )
        other_path = client.post(
            INBOUND, data=params, headers=signed_headers(TOKEN, PUBLIC_URL + "/sms/status", params)
        )
        wrong_token = client.post(
            INBOUND,
            data=params,
            headers=signed_headers("another-token", PUBLIC_URL + INBOUND, params),
        )
        missing = client.post(INBOUND, data=params)
        api_key_only = client.post(INBOUND, data=params, headers={"X-API-Key": KEY})

    for response in (
        tampered,
        dropped,
        added,
        wrong_url,
        other_path,
        wrong_token,
        missing,
        api_key_only,
    ):
        assert response.status_code == 403, response.text
        assert set(response.json()) == {"detail"}
        assert "clinic" not in response.text and "library" not in response.text
        assert sender not in response.text and quote(sender) not in response.text


@pytest.mark.process
def test_the_query_string_is_part_of_what_is_signed(offline):
    params = inbound_params(number(3), "HELP")
    path = INBOUND + "?channel=sms&v=2"
    with httpx.Client(base_url=offline.url, timeout=30) as client:
        signed = client.post(
            path, data=params, headers=signed_headers(TOKEN, PUBLIC_URL + path, params)
        )
        unsigned_query = client.post(
            path, data=params, headers=signed_headers(TOKEN, PUBLIC_URL + INBOUND, params)
        )
    assert signed.status_code == 200 and message_of(signed) == HELP_REPLY
    assert unsigned_query.status_code == 403


def raw_exchange(service, head: str, body: bytes = b"") -> str:
    """Send a request's head (and `body`) on a socket; the status line of the answer."""
    host, port = urlsplit(service.url).hostname, urlsplit(service.url).port
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(head.encode("ascii") + body)
        answer = b""
        while b"\r\n" not in answer:
            piece = sock.recv(4096)
            if not piece:
                break
            answer += piece
    return answer.split(b"\r\n", 1)[0].decode("ascii")


@pytest.mark.process
def test_no_signature_is_refused_before_the_body_is_read(offline):
    # The head promises 50,000 bytes that never come: a server that read the body would wait.
    head = (
        f"POST {INBOUND} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 50000\r\n\r\n"
    )
    assert raw_exchange(offline, head) == "HTTP/1.1 403 Forbidden"


@pytest.mark.process
def test_a_body_over_the_cap_gets_413(offline):
    params = inbound_params(number(4), "x" * 70_000)
    signed = signed_headers(TOKEN, PUBLIC_URL + INBOUND, params)
    head = (
        f"POST {INBOUND} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"X-Twilio-Signature: {signed['X-Twilio-Signature']}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 70000\r\n\r\n"
    )
    assert raw_exchange(offline, head) == "HTTP/1.1 413 Request Entity Too Large"

    def chunks():  # no Content-Length: counted as it arrives
        data = urlencode(params).encode()
        for start in range(0, len(data), 8192):
            yield data[start : start + 8192]

    with httpx.Client(base_url=offline.url, timeout=30) as client:
        response = client.post(
            INBOUND,
            content=chunks(),
            headers={**signed, "Content-Type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 413
    assert "xxxx" not in response.text


@pytest.mark.process
def test_the_service_refuses_to_start_with_sms_on_but_no_token_or_public_url(tmp_path):
    env = env_at(str(tmp_path))
    del env["TWILIO_AUTH_TOKEN"], env["GLIMPSE_PUBLIC_URL"]

    result = run_glimpse(["serve", "--port", "1"], env)

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "TWILIO_AUTH_TOKEN" in lines[0] and "GLIMPSE_PUBLIC_URL" in lines[0]


# -- answers, offline ----------------------------------------------------------------------


@pytest.mark.process
def test_a_question_is_answered_from_the_days_articles_citing_title_and_day(offline):
    sender = number(5)

    honey = ask(offline, sender, HONEY_QUESTION)
    orchid = ask(offline, sender, "Where did botanists find a rare flower?")

    assert honey.endswith(f"({HONEY}, {DAY})"), honey
    assert "hives" in honey.lower() and len(honey) <= MAX_REPLY_CHARS
    assert orchid.endswith(f"({ORCHID}, {DAY})"), orchid
    # Offline, the reply is the extractive answer from the best hit (the same as GET /search's).
    with offline.client() as client:
        hits = client.get("/search", params={"q": HONEY_QUESTION, "k": 3}).json()["results"]
    assert honey == extractive_answer(HONEY_QUESTION, hits)


@pytest.mark.process
def test_a_follow_up_is_answered_from_the_article_it_follows(offline):
    sender = number(18)
    ask(offline, sender, "Where did botanists find a rare flower?")

    follow_up = ask(offline, sender, "And how long ago were they last recorded?")
    fresh = ask(offline, number(19), "And how long ago were they last recorded?")

    assert follow_up.endswith(f"({ORCHID}, {DAY})") and "eighty years ago" in follow_up
    assert not fresh.endswith(f"({ORCHID}, {DAY})")  # without the history, another article


@pytest.mark.parametrize(
    ("words", "reply", "status"),
    [
        (
            ("STOP", "stop", " Unsubscribe ", "cancel", "END", "quit.", "STOPALL"),
            STOP_REPLY,
            "stopped",
        ),
        (("START", "yes", "Unstop"), START_REPLY, "subscribed"),
    ],
)
@pytest.mark.process
def test_start_and_stop_and_their_synonyms_change_the_subscriber_record(
    offline, indexed_root, words, reply, status
):
    records = records_at(indexed_root)
    for index, word in enumerate(words):
        sender = number(100 + index)
        KEYWORD_NUMBERS.add(sender)
        assert ask(offline, sender, word) == reply
        record = records.subscriber(sender)
        assert record["status"] == status and record["person"] == records.person_id(sender)


@pytest.mark.process
def test_stop_then_start_moves_a_number_out_of_the_recipients_and_back(offline, indexed_root):
    sender = number(200)
    KEYWORD_NUMBERS.add(sender)
    records = records_at(indexed_root)

    assert ask(offline, sender, "START") == START_REPLY
    assert sender in records.recipients([])
    assert ask(offline, sender, "STOP") == STOP_REPLY
    assert sender not in records.recipients([sender])  # even when configured
    assert ask(offline, sender, "start") == START_REPLY
    assert sender in records.recipients([])


@pytest.mark.process
def test_help_and_info_say_what_the_number_does(offline):
    assert ask(offline, number(6), "HELP") == HELP_REPLY
    assert ask(offline, number(6), "info") == HELP_REPLY


@pytest.mark.process
def test_status_callbacks_are_signed_and_recorded(offline, indexed_root):
    sid = message_sid()
    recipient = number(7)
    records = records_at(indexed_root)

    delivered = post(offline, status_params(sid, "delivered", recipient), path="/sms/status")
    late = post(offline, status_params(sid, "sent", recipient), path="/sms/status")
    with httpx.Client(base_url=offline.url, timeout=30) as client:
        unsigned = client.post("/sms/status", data=status_params(sid, "failed", recipient))

    assert delivered.status_code == 204 and late.status_code == 204 and unsigned.status_code == 403
    assert records.message_status(sid)["status"] == "delivered"

    failed_sid = message_sid()
    post(offline, status_params(failed_sid, "undelivered", recipient, "30003"), path="/sms/status")
    assert records.message_status(failed_sid) | {"updated_at": None} == {
        "sid": failed_sid,
        "status": "undelivered",
        "error_code": "30003",
        "updated_at": None,
    }


# -- answers from a model ------------------------------------------------------------------


@pytest.mark.process
def test_with_a_model_the_answer_is_the_models_and_cites_its_source(with_model, fake):
    before = fake.count(CHAT)

    # A question no other test asks: the service caches the model's answers in memory.
    reply = ask(with_model, number(8), "Who is harvesting the honey from the beehives?")

    assert fake.count(CHAT) == before + 1
    model_text = fake.answered(CHAT)[-1].content
    assert reply.startswith(model_text[:40]) and reply.endswith(f"({HONEY}, {DAY})"), reply
    assert len(reply) <= MAX_REPLY_CHARS
    messages = fake.answered(CHAT)[-1].body["messages"]
    assert HONEY in messages[-1]["content"] and "<sources>" in messages[-1]["content"]


@pytest.mark.process
def test_the_source_the_model_names_is_the_one_cited(with_model, fake):
    question = "Where can patients rest outside, and who sells honey?"
    with with_model.client() as client:
        hits = client.get("/search", params={"q": question, "k": 3}).json()["results"]
    fake.script(CHAT, answer("[2] See https://x.example: <b>a quiet place</b> to rest."))

    reply = ask(with_model, number(17), question)

    assert hits[1]["title"] != hits[0]["title"]
    assert reply == f"See a quiet place to rest. ({hits[1]['title']}, {DAY})"


@pytest.mark.process
def test_a_follow_up_has_the_earlier_exchange_in_the_prompt(with_model, fake):
    sender = number(9)
    first = ask(with_model, sender, HONEY_QUESTION)
    ask(with_model, sender, "And where do the bees find their flowers?")

    messages = fake.answered(CHAT)[-1].body["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert HONEY_QUESTION in messages[1]["content"] and messages[2]["content"] == first
    # Another sender's conversation starts afresh.
    ask(with_model, number(10), "And where do the bees find their flowers?")
    assert [m["role"] for m in fake.answered(CHAT)[-1].body["messages"]] == ["system", "user"]


@pytest.mark.process
def test_a_retried_message_sid_gets_the_same_reply_with_one_model_call(with_model, fake):
    sender, sid = number(11), message_sid()
    before = fake.count(CHAT)

    first = ask(with_model, sender, "Who tends the hives on the library roof?", sid=sid)
    again = ask(with_model, sender, "Who tends the hives on the library roof?", sid=sid)

    assert again == first
    assert fake.count(CHAT) == before + 1


@pytest.mark.process
def test_a_retry_that_arrives_while_the_first_is_answered_waits_for_it(with_model, fake):
    sender, sid = number(12), message_sid()
    question = "What flowers grow in the rooftop garden?"
    fake.script(CHAT, slow(1.5))  # the first post is still being answered when the retry comes
    before = fake.count(CHAT)
    replies: list[str] = []

    def send() -> None:
        replies.append(ask(with_model, sender, question, sid=sid))

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(replies) == 3 and len(set(replies)) == 1
    assert fake.count(CHAT) == before + 1
    assert replies[0].startswith(fake.answered(CHAT)[-1].content[:40])


@pytest.mark.process
def test_a_retry_that_reaches_another_process_gets_the_stored_reply(with_model, fake, indexed_root):
    sender, sid = number(13), message_sid()
    question = "Which library has bees on its roof?"
    first = ask(with_model, sender, question, sid=sid)
    count = fake.count(CHAT)

    with serve_process(openai_env(indexed_root, fake)) as second:
        SERVICES.append(second)
        again = ask(second, sender, question, sid=sid)

    assert again == first
    assert fake.count(CHAT) == count
    stored = json.loads(Path(indexed_root, "_sms", "replies", f"{sid}.json").read_text())
    assert stored["reply"] == first and stored["state"] == "answered"
    assert stored["person"] == records_at(indexed_root).person_id(sender)


@pytest.mark.process
def test_the_rate_limit_answers_the_eleventh_question_politely_without_a_model_call(
    with_model, fake
):
    sender = number(14)
    before = fake.count(CHAT)
    for n in range(10):
        reply = ask(with_model, sender, f"Question {n}: who harvests the honey?")
        assert "in the last hour" not in reply
    assert fake.count(CHAT) == before + 10

    eleventh = ask(with_model, sender, "Question 10: who harvests the honey?")

    assert "10 questions in the last hour" in eleventh
    assert fake.count(CHAT) == before + 10
    assert ask(with_model, sender, "HELP") == HELP_REPLY  # keywords are never limited
    assert "in the last hour" not in ask(with_model, number(15), HONEY_QUESTION)


@pytest.mark.process
def test_a_slow_model_still_gets_the_extractive_reply_in_time(indexed_root):
    with FakeOpenAI() as slow_fake:
        slow_fake.always(CHAT, slow(30))
        env = openai_env(
            indexed_root,
            slow_fake,
            GLIMPSE_SMS_REPLY_SECONDS="3",  # the search has time on a busy machine
            GLIMPSE_LLM_MAX_RETRIES="0",
            GLIMPSE_LLM_TIMEOUT_SECONDS="5",
        )
        with serve_process(env) as service:
            SERVICES.append(service)
            reply = ask(service, number(16), HONEY_QUESTION)
            with service.client() as client:
                hits = client.get("/search", params={"q": HONEY_QUESTION, "k": 3}).json()
            # The model was asked (the call goes on after the reply; wait for it to arrive).
            waited = 0
            while slow_fake.count(CHAT) == 0 and waited < 300:
                time.sleep(0.1)
                waited += 1
            assert slow_fake.count(CHAT) == 1

    assert reply == extractive_answer(HONEY_QUESTION, hits["results"])
    assert reply.endswith(f"({HONEY}, {DAY})")


@pytest.mark.process
def test_an_sms_burst_with_a_slow_model_leaves_search_answering(indexed_root):
    """More texts at once than the service's shared worker threads (40), each waiting for a
    model slower than the deadline: `/search` is answered while every text still waits."""
    burst = 50
    with FakeOpenAI() as slow_fake:
        slow_fake.always(CHAT, slow(30))
        env = openai_env(
            indexed_root,
            slow_fake,
            GLIMPSE_SMS_REPLY_SECONDS="6",  # room for the burst to arrive before the search
            GLIMPSE_LLM_MAX_RETRIES="0",
            GLIMPSE_LLM_TIMEOUT_SECONDS="8",
        )
        with serve_process(env) as service:
            SERVICES.append(service)
            answered: list[tuple[float, int]] = []

            def text(n: int) -> None:
                MESSAGES.add(HONEY_QUESTION)
                response = post(service, inbound_params(number(400 + n), HONEY_QUESTION))
                answered.append((time.monotonic(), response.status_code))

            threads = [threading.Thread(target=text, args=(n,)) for n in range(burst)]
            for thread in threads:
                thread.start()
            waited = 0
            while slow_fake.count(CHAT) < 4 and waited < 300:  # the model calls are all busy
                time.sleep(0.05)
                waited += 1
            time.sleep(0.3)  # the rest of the burst arrives and waits for its deadline
            with service.client() as client:
                asked = time.monotonic()
                search = client.get("/search", params={"q": HONEY_QUESTION, "k": 3})
                searched = time.monotonic()
            for thread in threads:
                thread.join()

    assert search.status_code == 200 and search.json()["results"]
    assert len(answered) == burst and {status for _, status in answered} == {200}
    # Ordering, not speed: the search came back before the first text of the burst did.
    print(f"/search during the burst: {searched - asked:.2f} s")
    assert searched < min(at for at, _ in answered)


# -- without HTTP ---------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeSearch:
    def __init__(self, hits):
        self.hits = hits
        self.queries: list[str] = []

    def search(self, query, k, since, until):
        self.queries.append(query)
        return self.hits


def inbound_at(tmp_path, hits, clock, per_hour=10) -> InboundSms:
    from glimpse_assets.providers.offline_text import OfflineTextProvider

    records = SmsRecords(open_object_store(str(tmp_path)))
    return InboundSms(
        records, FakeSearch(hits), OfflineTextProvider(), per_hour=per_hour, clock=clock
    )


HIT = {
    "id": "c1",
    "title": HONEY,
    "published": f"{DAY}T03:36:38+00:00",
    "text": f"{HONEY}\nBeekeepers lifted the first frames of honey. Jars will be sold.",
}


def test_no_index_yet_gets_a_polite_reply(tmp_path):
    inbound = inbound_at(tmp_path, None, Clock())
    reply = inbound.reply(inbound_params("+15550000001", "What happened today?"))
    assert (reply.text, reply.kind) == (NO_INDEX_REPLY, "no index")


class BrokenSearch(FakeSearch):
    def search(self, query, k, since, until):
        raise RuntimeError(f"index unreadable for {query}")


def test_a_failed_answer_is_not_kept_for_the_retry(tmp_path):
    inbound = inbound_at(tmp_path, [HIT], Clock())
    working = inbound.search
    inbound.search = BrokenSearch(None)
    params = inbound_params("+15550000006", "Who sells the honey?")

    failed = inbound.reply(params)
    inbound.search = working
    retried = inbound.reply(params)

    assert failed.kind == "failed" and retried.kind == "extractive"
    (stored,) = Path(tmp_path, "_sms", "replies").glob("*.json")
    assert json.loads(stored.read_text())["reply"] == retried.text


def test_a_sid_that_is_not_twilios_is_refused_and_names_no_record(tmp_path):
    inbound = inbound_at(tmp_path, [HIT], Clock())
    for sid in ("../x", "", "SM" + "A" * 32):
        with pytest.raises(WebhookError, match="MessageSid"):
            inbound.reply(inbound_params("+15550000007", "Who sells the honey?", sid=sid or "x"))
    assert not Path(tmp_path, "_sms", "replies").exists()


def test_the_rate_limit_window_slides_over_the_hour(tmp_path):
    clock = Clock()
    inbound = inbound_at(tmp_path, [HIT], clock, per_hour=2)
    kinds = []
    for minutes in (0, 10, 20, 59, 61):
        clock.now = 1000.0 + minutes * 60
        kinds.append(inbound.reply(inbound_params("+15550000002", "Who sells the honey?")).kind)
    assert kinds == ["extractive", "extractive", "rate limited", "rate limited", "extractive"]


def test_the_memory_keeps_three_exchanges_for_a_day(tmp_path):
    clock = Clock()
    memory = ConversationMemory(clock=clock)
    for n in range(5):
        memory.remember("p-1", f"q{n}", f"a{n}", None)
    assert [q for q, _, _ in memory.history("p-1")] == ["q2", "q3", "q4"]
    clock.now += 23 * 3600
    assert len(memory.history("p-1")) == 3
    clock.now += 3601
    assert memory.history("p-1") == [] and len(memory) == 0


def test_the_memory_is_bounded(tmp_path):
    memory = ConversationMemory(max_people=2, clock=Clock())
    for person in ("p-1", "p-2", "p-3"):
        memory.remember(person, "q", "a", None)
    assert memory.history("p-1") == [] and len(memory) == 2


def test_keywords_are_whole_messages_in_any_case():
    assert keyword(" stop ") == "stop" and keyword("Stop!") == "stop" and keyword("END") == "stop"
    assert keyword("yes") == "start" and keyword("INFO") == "help"
    assert keyword("stop the bus") is None and keyword("") is None


def model_inbound(tmp_path, monkeypatch, fake, **env: str) -> InboundSms:
    from glimpse_assets.resources import shared_resources
    from glimpse_assets.sms.inbound import without_stored_questions

    # The service reads the key from its environment, as `glimpse serve` does.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-sms-0123456789")
    settings = {
        "GLIMPSE_STORAGE_URI": str(tmp_path),
        "GLIMPSE_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-test-sms-0123456789",
        "OPENAI_BASE_URL": fake.base_url,
        **env,
    }
    provider = without_stored_questions(shared_resources(settings).text_provider)
    records = SmsRecords(open_object_store(str(tmp_path)))
    return InboundSms(records, FakeSearch([HIT]), provider, clock=Clock())


def test_the_models_answers_are_cached_in_memory_only(tmp_path, monkeypatch):
    with FakeOpenAI() as model:
        inbound = model_inbound(tmp_path, monkeypatch, model)
        first = inbound.reply(inbound_params("+15550000003", "Who sells the honey jars?"))
        second = inbound.reply(inbound_params("+15550000004", "Who sells the honey jars?"))

    assert first.kind == second.kind == "answer" and first.text == second.text
    assert model.count(CHAT) == 1  # the same request: answered from the cache
    assert not Path(tmp_path, "_cache").exists()
    assert list(Path(tmp_path, "_budget").glob("*.json"))  # the shared spend record


def test_the_daily_budget_stops_the_model_and_the_extractive_answer_goes(tmp_path, monkeypatch):
    with FakeOpenAI() as model:
        inbound = model_inbound(tmp_path, monkeypatch, model, GLIMPSE_DAILY_BUDGET_USD="0")
        reply = inbound.reply(inbound_params("+15550000005", "Who sells the honey jars?"))

    assert model.count(CHAT) == 0
    assert reply.kind == "extractive (model failed)"
    assert reply.text == extractive_answer("Who sells the honey jars?", [HIT])


# -- personal data ---------------------------------------------------------------------------


def spellings(value: str) -> set[str]:
    """A number as it may be written: as sent, form-encoded, without its +."""
    return {value, quote(value, safe=""), value.lstrip("+")}


def one_of_each_exchange(offline, with_model) -> None:
    """A question and its follow-up, START, STOP and HELP, signed status callbacks, refused
    posts (tampered, unsigned), a question past the hourly limit, and a model's answer retried
    under the same MessageSid: every kind of exchange the tests above make, from new numbers."""
    asker, keyword, recipient, limited, retried = (number(n) for n in range(300, 305))
    ask(offline, asker, HONEY_QUESTION)
    ask(offline, asker, "And how long ago were they last recorded?")
    KEYWORD_NUMBERS.add(keyword)
    for word in ("START", "STOP", "HELP"):
        ask(offline, keyword, word)
    sid = message_sid()
    assert post(offline, status_params(sid, "delivered", recipient), path="/sms/status").is_success
    params = inbound_params(asker, "What opened at the clinic?")
    MESSAGES.add(params["Body"])
    signed = signed_headers(TOKEN, PUBLIC_URL + INBOUND, params)
    with httpx.Client(base_url=offline.url, timeout=30) as client:
        tampered = {**params, "Body": "What opened at the library?"}
        assert client.post(INBOUND, data=tampered, headers=signed).status_code == 403
        assert client.post(INBOUND, data=params).status_code == 403
    for n in range(11):
        ask(with_model, limited, f"Question {n}: who tends the rooftop hives?")
    question, sid = "Which library keeps bees on its roof?", message_sid()
    first = ask(with_model, retried, question, sid=sid)
    assert ask(with_model, retried, question, sid=sid) == first


@pytest.mark.process
def test_no_log_line_or_stored_object_holds_a_number_or_a_message(
    offline, with_model, indexed_root
):
    """What this module's services logged and stored so far: this test's own exchanges (one of
    each kind, so it holds whatever ran before it) and those of every test that ran before."""
    one_of_each_exchange(offline, with_model)
    lines = [line for service in SERVICES for line in service.output().splitlines()]
    assert any("sms inbound" in line and " from p-" in line for line in lines)
    questions = {m for m in MESSAGES if len(m) > 12}
    for line in lines:
        for value in NUMBERS:
            assert not any(spelling in line for spelling in spellings(value)), line
        assert not any(question in line for question in questions), line

    subscribers = Path(indexed_root, "_sms", "subscribers")
    for path in Path(indexed_root).rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes().decode("utf-8", "replace")
        assert not any(question in data for question in questions), path
        found = {value for value in NUMBERS if any(s in data for s in spellings(value))}
        if path.parent == subscribers:  # a subscriber's own record: its number, to send to
            assert found <= KEYWORD_NUMBERS and len(found) <= 1, path
        else:
            assert not found, path
