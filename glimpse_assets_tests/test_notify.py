"""Who hears about the day: SNS (moto's server on 127.0.0.1, read back through an SQS queue
subscribed to the topic), Slack (a local server speaking its Web API JSON), the log notifier,
and the run-failure sensor's message."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import date

import boto3
import dagster as dg
import pytest

from glimpse_assets.news.assets import raw_news
from glimpse_assets.news.sources import NewsBatch, NewsSource, NewsSourceError
from glimpse_assets.publish.notifiers import LogNotifier, NotifyError, SlackNotifier, SnsNotifier
from glimpse_assets.publish.resources import publish_notifier
from glimpse_assets.publish.sensors import notify_on_run_failure
from glimpse_assets.publish.settings import PublishSettings
from glimpse_assets_tests.support.http_doubles import LocalHTTPServer, Reply
from glimpse_assets_tests.support.net import free_port
from glimpse_assets_tests.support.recording_notifier import RecordingNotifier
from glimpse_assets_tests.support.stores import io_manager_at

DAY = "2026-03-02"
UI_URL = "http://127.0.0.1:3999"
SLACK_TOKEN = "xoxb-1234567890-0987654321-testTOKENabc"


# -- sns -------------------------------------------------------------------------------------


@pytest.fixture
def sns_topic(moto_server, monkeypatch):
    """A topic on the local moto server, and a function returning what an SQS queue subscribed
    to it received (SNS's JSON envelopes)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    name = f"glimpse-{uuid.uuid4().hex[:12]}"
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

    def delivered() -> list[dict]:
        received = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        return [json.loads(message["Body"]) for message in received.get("Messages", [])]

    yield topic_arn, delivered
    sns.delete_topic(TopicArn=topic_arn)
    sqs.delete_queue(QueueUrl=queue_url)


def test_sns_delivers_the_subject_and_message(sns_topic):
    topic_arn, delivered = sns_topic
    notifier = SnsNotifier(topic_arn=topic_arn, ui_url=UI_URL)

    notifier.send("Glimpse posted 2026-03-02 via outbox", "Lanterns over the harbour.\nRun: x")

    (envelope,) = delivered()
    assert envelope["TopicArn"] == topic_arn
    assert envelope["Subject"] == "Glimpse posted 2026-03-02 via outbox"
    assert envelope["Message"] == "Lanterns over the harbour.\nRun: x"


def test_sns_cuts_a_long_subject_to_100_characters(sns_topic):
    topic_arn, delivered = sns_topic
    subject = "Glimpse: news_job failed for 2026-03-02 because " + "the quota ran out " * 10

    SnsNotifier(topic_arn=topic_arn).send(subject, "details")

    (envelope,) = delivered()
    assert len(envelope["Subject"]) == 100
    assert envelope["Subject"] == subject[:97] + "..."
    assert envelope["Message"] == "details"


def test_sns_to_a_missing_topic_fails_naming_the_topic(sns_topic):
    topic_arn, _ = sns_topic
    missing = topic_arn + "-gone"
    with pytest.raises(NotifyError, match=missing):
        SnsNotifier(topic_arn=missing).send("subject", "text")


def test_sns_without_a_topic_fails_naming_the_variable():
    with pytest.raises(NotifyError, match="GLIMPSE_SNS_TOPIC_ARN"):
        SnsNotifier(topic_arn="").send("subject", "text")


# -- slack -----------------------------------------------------------------------------------


def fake_slack(request) -> Reply:
    """chat.postMessage as Slack answers it: HTTP 200 and `ok`, or `ok: false` and an error code
    for a channel it does not know."""
    if request.path != "/api/chat.postMessage":
        return Reply.json({"ok": False, "error": "unknown_method"}, status=404)
    if request.headers.get("authorization") != f"Bearer {SLACK_TOKEN}":
        return Reply.json({"ok": False, "error": "invalid_auth"})
    message = request.json()
    if message.get("channel") != "#glimpse":
        return Reply.json({"ok": False, "error": "channel_not_found"})
    return Reply.json(
        {
            "ok": True,
            "channel": "C0GLIMPSE01",
            "ts": "1772409600.000100",
            "message": {"type": "message", "text": message["text"], "bot_id": "B0GLIMPSE"},
        }
    )


def test_slack_posts_to_chat_post_message_and_fails_on_slack_errors_without_the_token():
    with LocalHTTPServer(fake_slack) as server:
        base_url = f"{server.url}/api/"
        SlackNotifier(token=SLACK_TOKEN, channel="#glimpse", base_url=base_url, ui_url=UI_URL).send(
            "Glimpse posted 2026-03-02 via outbox", "Lanterns over the harbour.\nRun: x"
        )
        (request,) = server.requests

        gone = SlackNotifier(token=SLACK_TOKEN, channel="#gone", base_url=base_url)
        with pytest.raises(NotifyError) as raised:
            gone.send("subject", "text")

    assert request.method == "POST"
    assert request.path == "/api/chat.postMessage"
    assert request.headers["authorization"] == f"Bearer {SLACK_TOKEN}"
    assert request.headers["content-type"].startswith("application/json")
    assert request.json() == {
        "channel": "#glimpse",
        "text": "*Glimpse posted 2026-03-02 via outbox*\nLanterns over the harbour.\nRun: x",
    }
    assert SLACK_TOKEN not in request.path and SLACK_TOKEN not in request.body.decode("utf-8")

    assert len(server.requests) == 2  # the failed post is not retried
    assert server.requests[1].json()["channel"] == "#gone"
    message = str(raised.value)
    assert "channel_not_found" in message
    assert "#gone" in message
    assert SLACK_TOKEN not in message
    assert raised.value.__cause__ is None


def test_slack_without_a_token_fails_before_any_request():
    with LocalHTTPServer(fake_slack) as server:
        notifier = SlackNotifier(token=None, channel="#glimpse", base_url=f"{server.url}/api/")
        with pytest.raises(NotifyError, match="SLACK_BOT_TOKEN"):
            notifier.send("subject", "text")

    assert server.requests == []


def test_slack_unreachable_is_a_notify_error_without_the_token():
    port = free_port()  # nothing listens on it
    token = "xoxb-unreachable-secret"
    notifier = SlackNotifier(
        token=token, channel="#glimpse", base_url=f"http://127.0.0.1:{port}/api/"
    )

    with pytest.raises(NotifyError, match=r"Slack chat\.postMessage to #glimpse failed") as failed:
        notifier.send("subject", "text")
    assert token not in str(failed.value)


# -- the run-failure sensor ------------------------------------------------------------------


class QuotaExhaustedSource(NewsSource):
    """A test double: the news API refuses every day."""

    @property
    def kind(self) -> str:
        return "quota"

    def fetch_day(self, day: date) -> NewsBatch:
        raise NewsSourceError("quota\nYour plan allows 600 requests a day; try again tomorrow.")


def test_the_failure_sensor_names_job_partition_step_error_and_run_link(tmp_path):
    notifier = RecordingNotifier(inbox=str(tmp_path / "inbox.jsonl"), ui_url=UI_URL + "/")
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [raw_news],
            partition_key=DAY,
            resources={
                "news_source": QuotaExhaustedSource(),
                "io_manager": io_manager_at(str(tmp_path / "s")),
            },
            instance=instance,
            raise_on_error=False,
        )
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        with dg.build_run_status_sensor_context(
            sensor_name="notify_on_run_failure",
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=result.get_run_failure_event(),
            resources={"publish_notifier": notifier},
        ) as context:
            notify_on_run_failure(context)

    (message,) = notifier.messages()
    assert message["subject"] == f"Glimpse: {run.job_name} failed for {DAY}"
    lines = message["text"].splitlines()
    assert lines[0] == f"Run {run.run_id} of {run.job_name} failed (partition {DAY})."
    assert lines[1].startswith("- step raw_news: ")
    assert lines[1].endswith("quota")
    assert "600 requests" not in message["text"]  # only the error's first line
    assert lines[-1] == f"Run: {UI_URL}/runs/{run.run_id}"


# -- log -------------------------------------------------------------------------------------


def test_the_log_notifier_writes_to_the_glimpse_notifications_logger(caplog):
    with caplog.at_level(logging.INFO, logger="glimpse.notifications"):
        LogNotifier().send("Glimpse posted 2026-03-02 via outbox", "Lanterns over the harbour.")

    (record,) = [r for r in caplog.records if r.name == "glimpse.notifications"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "Glimpse posted 2026-03-02 via outbox\nLanterns over the harbour."


def notifier_from_env(env: dict[str, str]):
    return publish_notifier(PublishSettings.from_env(env))


def test_the_default_notifier_logs_and_links_runs_under_glimpse_ui_url():
    notifier = notifier_from_env({"GLIMPSE_UI_URL": "http://dagster.internal:3000/"})
    assert isinstance(notifier, LogNotifier)
    assert notifier.run_url("abc-123") == "http://dagster.internal:3000/runs/abc-123"
    assert notifier_from_env({}).run_url("abc-123") == "http://127.0.0.1:3000/runs/abc-123"
