"""The answers given (SMS replies and `GET /ask`): kept once each in the answer log with their
sources and nothing of who asked or what, and measured daily by `answers_are_grounded`.

Without a service: the three scores on known answers (one drawn from its source, one invented,
one without its citation, one too long); `answers_given` and its check over a stored log (a
grounded answer passes, an invented one warns, a day without answers is skipped); the log's
record (no question), one record per MessageSid, a garbage record named and left out, and a
storage that refuses the write leaving the caller unharmed. Through a real `glimpse serve` with
SMS on: an /ask answer and a signed webhook's answer are kept, a retried MessageSid once, and
the stored bytes hold no number, person id, MessageSid or question; with a storage that refuses
the log's writes, the reply and the /ask answer still go.
"""

import json
import logging
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import dagster as dg
import httpx
import pytest

from glimpse_assets.providers.base import TextResult
from glimpse_assets.providers.offline_text import OfflineTextProvider
from glimpse_assets.skipped_checks import skips_in_run
from glimpse_assets.sms.answer_log import ANSWERS_PREFIX, AnswerLog, day_records
from glimpse_assets.sms.answering import MODEL, Answer, Answerer
from glimpse_assets.sms.answers import MAX_REPLY_CHARS, citation
from glimpse_assets.sms.assets import answers_given
from glimpse_assets.sms.checks import answers_are_grounded
from glimpse_assets.sms.quality import answer_scores
from glimpse_assets.sms.records import SmsRecords
from glimpse_assets.storage.object_store import StorageError, open_object_store
from glimpse_assets_tests.support.net import wait_until
from glimpse_assets_tests.support.serve_process import index_sample_day, serve_process, warmed
from glimpse_assets_tests.support.sms import INBOUND, PUBLIC_URL, TOKEN, env_at, reply_of
from glimpse_assets_tests.support.stores import io_manager_at
from glimpse_assets_tests.support.twilio_signing import (
    inbound_params,
    message_sid,
    signed_headers,
)

DAY = "2026-03-02"
HONEY = "Honey Harvest Begins at Rooftop Hives Above the Quillhaven Library"
HIT = {
    "id": "3f7c0e1a9b2d4c5e-0",
    "document_id": "3f7c0e1a9b2d4c5e",
    "title": HONEY,
    "published": f"{DAY}T03:36:38+00:00",
    "url": "https://example.com/news/honey-harvest",
    "text": f"{HONEY}\nBeekeepers lifted the first frames of honey from the hives above the "
    "library on Monday. Jars will be sold at the library's front desk on Saturday.",
}
SOURCE = {"title": HONEY, "day": DAY, "text": HIT["text"]}
QUESTION = "Who sells the honey jars from the library roof?"
INVENTED = "The city council voted to close the harbour bridge for repairs. Ferries run hourly."


class OneHit:
    def search(self, query, k, since, until):
        return [HIT]


def extractive(question: str = QUESTION) -> Answer:
    answerer = Answerer(OneHit(), OfflineTextProvider())
    try:
        return answerer.answer(question, time.monotonic() + 30)
    finally:
        answerer.close()


def model_answer(text: str) -> Answer:
    """A model's answer of `text`, citing the hit, as `sms.answers.shape_answer` ends it."""
    return Answer(MODEL, TextResult(f"{text} {citation(HIT)}", "openai", "gpt-test", "m"), (HIT,))


def today() -> str:
    return datetime.now(UTC).date().isoformat()


# -- the scores ------------------------------------------------------------------------------


@pytest.mark.slow
def test_an_answer_drawn_from_its_source_passes_and_an_invented_one_fails():
    grounded = extractive()
    invented = model_answer(INVENTED)

    good = answer_scores([(grounded.text, [SOURCE])])
    bad = answer_scores([(invented.text, [SOURCE])])

    assert [score.value for score in good] == [1.0, 1.0, 1.0]
    assert all(score.passed for score in good)
    grounded_share, cited, within = bad
    assert grounded_share.value == 0.0 and not grounded_share.passed
    assert grounded_share.details["failed"] == [0]
    assert cited.passed and within.passed  # it cites and fits: only its sentences are invented


@pytest.mark.slow
def test_an_answer_without_its_citation_or_too_long_fails_those_scores():
    sentence = "Beekeepers lifted the first frames of honey from the hives above the library."
    uncited = sentence
    too_long = " ".join([sentence] * 5) + f" {citation(HIT)}"
    assert len(too_long) > MAX_REPLY_CHARS

    grounded, cited, within = answer_scores([(uncited, [SOURCE]), (too_long, [SOURCE])])

    assert grounded.passed  # every sentence is the source's
    assert (cited.value, cited.details["uncited"]) == (0.5, [0])
    assert (within.value, within.details["too_long"]) == (0.5, [1]) and not within.passed


def test_no_answers_skip_every_score():
    assert all(score.is_skipped for score in answer_scores([]))


# -- answers_given and its check over a stored log --------------------------------------------


def materialize_day(
    root: Path, day: str, instance: dg.DagsterInstance | None = None
) -> dg.ExecuteInProcessResult:
    io_manager = io_manager_at(str(root))
    return dg.materialize(
        [answers_given, answers_are_grounded],
        partition_key=day,
        resources={"io_manager": io_manager, "object_store": io_manager.object_store},
        instance=instance,
        raise_on_error=False,
    )


def check_metadata(result: dg.ExecuteInProcessResult) -> tuple[dg.AssetCheckEvaluation, dict]:
    """The day's one evaluation of answers_are_grounded and its metadata's plain values."""
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation, {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}


@pytest.mark.slow
def test_the_days_answers_are_a_table_and_a_grounded_day_passes(tmp_path):
    log = AnswerLog(open_object_store(str(tmp_path)))
    grounded = extractive()
    assert log.write("ask", grounded)
    assert log.write("sms", extractive("When are the honey jars sold?"), reply_id=message_sid())

    result = materialize_day(tmp_path, today())

    assert result.success
    stored = result.output_for_node("answers_given")
    assert sorted(stored["channel"]) == ["ask", "sms"]
    assert set(stored["cited_chunk_id"]) == {HIT["id"]}
    assert grounded.text in set(stored["answer"])
    (sources,) = {row for row in stored["sources"]}  # both from the one hit
    assert json.loads(sources)[0]["text"] == HIT["text"]
    materialization = result.asset_materializations_for_node("answers_given")[0]
    metadata = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
    assert (metadata["answers"], metadata["answers_sms"], metadata["answers_ask"]) == (2, 1, 1)
    assert metadata["kinds"] == "extractive 2"
    evaluation, scores = check_metadata(result)
    assert evaluation.passed and scores["quality_status"] == "passed", evaluation.description
    assert scores["grounded_share_mean"] == scores["cited_share"] == 1.0
    assert scores["within_length_share"] == 1.0


@pytest.mark.slow
def test_an_invented_answer_warns(tmp_path):
    log = AnswerLog(open_object_store(str(tmp_path)))
    log.write("ask", extractive())
    log.write("ask", model_answer(INVENTED))

    result = materialize_day(tmp_path, today())

    evaluation, scores = check_metadata(result)
    assert result.success  # a warning, not a failure of the run
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert scores["quality_status"] == "failed"
    assert scores["grounded_share_mean"] == 0.5 and scores["grounded_share_mean_failed_count"] == 1
    assert "grounded_share_mean 0.500" in evaluation.description


def test_a_day_without_answers_is_skipped(tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    result = materialize_day(tmp_path, "2026-03-01", instance)

    assert result.success and len(result.output_for_node("answers_given")) == 0
    # No result (never "passed" on nothing): Dagster shows the day's check skipped, and why.
    assert result.get_asset_check_evaluations() == []
    assert skips_in_run(instance, result.run_id) == [
        ("answers_are_grounded", "2026-03-01", "the answers of 2026-03-01: no answer given")
    ]


# -- the log itself ----------------------------------------------------------------------------


def stored_bytes(root: Path) -> list[bytes]:
    return [path.read_bytes() for path in sorted(Path(root, ANSWERS_PREFIX).rglob("*.json"))]


def test_a_record_holds_the_answer_and_its_sources_and_one_sid_is_kept_once(tmp_path):
    log = AnswerLog(open_object_store(str(tmp_path)))
    answer, sid = extractive(), message_sid()

    assert log.write("sms", answer, reply_id=sid) is True
    assert log.write("sms", answer, reply_id=sid) is False  # a retry answered again

    (data,) = stored_bytes(tmp_path)
    record = json.loads(data)
    assert (record["channel"], record["kind"]) == ("sms", "extractive")
    assert record["answer"] == answer.text
    assert record["sources"] == [
        {
            "chunk_id": HIT["id"],
            "document_id": HIT["document_id"],
            "title": HONEY,
            "day": DAY,
            "url": HIT["url"],
            "cited": True,
            "text": HIT["text"],
        }
    ]
    assert QUESTION.encode() not in data and sid.encode() not in data


def test_a_garbage_record_is_named_and_left_out(tmp_path):
    store = open_object_store(str(tmp_path))
    AnswerLog(store).write("ask", extractive())
    store.put(f"{ANSWERS_PREFIX}/{today()}/torn.json", b'{"channel": "ask", "ans')

    records, unreadable = day_records(store, today())

    assert len(records) == 1 and unreadable == [f"{ANSWERS_PREFIX}/{today()}/torn.json"]


def test_a_storage_that_refuses_the_write_leaves_the_caller_unharmed(tmp_path, caplog):
    Path(tmp_path, ANSWERS_PREFIX).write_text("not a folder")  # every write under it fails
    log = AnswerLog(open_object_store(str(tmp_path)))
    answer = extractive()
    with pytest.raises(StorageError):
        log.write("ask", answer)

    with caplog.at_level(logging.WARNING, logger="uvicorn.error.answer_log"):
        log.record("ask", answer)  # returns at once, and raises nothing
        wait_until(lambda: "not kept" in caplog.text, "the log's warning")

    assert "answer log: an answer (ask) not kept (StorageError)" in caplog.text
    assert answer.text not in caplog.text


# -- through a real glimpse serve ---------------------------------------------------------------


@pytest.fixture(scope="module")
def indexed_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("answers") / "storage"
    index_sample_day(str(root), DAY)
    return root


@pytest.fixture(scope="module")
def service(indexed_root):
    with serve_process(env_at(str(indexed_root))) as service:
        yield warmed(service)


def text_message(service, number: str, body: str, sid: str) -> str:
    params = inbound_params(number, body, sid=sid)
    signed = signed_headers(TOKEN, PUBLIC_URL + INBOUND, params)
    with httpx.Client(base_url=service.url, timeout=60) as client:
        return reply_of(client.post(INBOUND, data=params, headers=signed))


def kept(root: Path, channel: str) -> list[dict]:
    records, _ = day_records(open_object_store(str(root)), today())
    return [record for record in records if record["channel"] == channel]


@pytest.mark.process
def test_an_ask_answer_is_kept_with_its_citations_and_not_its_question(service, indexed_root):
    question = "Who lifted the first frames of honey above the library?"
    with service.client() as client:
        response = client.get("/ask", params={"q": question})
    assert response.status_code == 200, response.text
    body = response.json()

    wait_until(lambda: kept(indexed_root, "ask"), "the /ask answer kept")

    (record,) = [r for r in kept(indexed_root, "ask") if r["answer"] == body["answer"]]
    assert record["kind"] == "extractive" and record["model"] == body["model"]
    cited = [{k: v for k, v in s.items() if k != "text"} for s in record["sources"]]
    assert cited == body["citations"]
    assert all(source["text"] for source in record["sources"])
    assert not any(question.encode() in data for data in stored_bytes(indexed_root))


@pytest.mark.process
def test_an_sms_answer_is_kept_once_and_holds_no_number_person_sid_or_message(
    service, indexed_root
):
    number, sid = "+15550100077", message_sid()
    question = "When will the jars of rooftop honey be sold?"

    reply = text_message(service, number, question, sid)
    wait_until(lambda: kept(indexed_root, "sms"), "the SMS answer kept")
    retried = text_message(service, number, question, sid)

    assert retried == reply
    (record,) = kept(indexed_root, "sms")
    assert record["answer"] == reply and record["sources"][0]["cited"] is True
    person = SmsRecords(open_object_store(str(indexed_root))).person_id(number)
    spellings = {number, quote(number, safe=""), number.lstrip("+")}
    for data in stored_bytes(indexed_root):
        text = data.decode()
        assert not any(spelling in text for spelling in spellings)
        assert person not in text and sid not in text and question not in text


@pytest.mark.process
def test_a_storage_that_refuses_the_log_fails_no_reply(indexed_root, tmp_path):
    root = tmp_path / "storage"
    shutil.copytree(indexed_root, root, ignore=shutil.ignore_patterns(ANSWERS_PREFIX, ".locks"))
    Path(root, ANSWERS_PREFIX).write_text("not a folder")  # every write of the log fails

    with serve_process(env_at(str(root))) as service:
        warmed(service)
        reply = text_message(service, "+15550100078", "Who keeps bees on the roof?", message_sid())
        with service.client() as client:
            asked = client.get("/ask", params={"q": "Who keeps bees on the library roof?"})
        wait_until(
            lambda: service.output().count("not kept (StorageError)") >= 2, "the log's warnings"
        )

    assert reply.endswith(f"{DAY})") and asked.status_code == 200, asked.text
    assert "answer log: an answer (sms) not kept (StorageError)" in service.output()
    assert "answer log: an answer (ask) not kept (StorageError)" in service.output()
