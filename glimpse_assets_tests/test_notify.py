"""Who hears about the day: SNS (moto's server on 127.0.0.1, read back through an SQS queue
subscribed to the topic), the log notifier, and the run-failure sensor's message."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import date

import boto3
import dagster as dg
import pytest
from dagster_aws.s3 import S3Resource

from glimpse_assets.definitions import notifier_from_env
from glimpse_assets.news.assets import raw_news
from glimpse_assets.news.sources import NewsBatch, NewsSource, NewsSourceError
from glimpse_assets.publish.notifiers import LogNotifier, NotifyError, SnsNotifier
from glimpse_assets.publish.sensors import notify_on_run_failure
from glimpse_assets.storage import GlimpseIOManager
from glimpse_assets_tests.recording_notifier import RecordingNotifier

DAY = "2026-03-02"
UI_URL = "http://127.0.0.1:3999"


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
                "io_manager": GlimpseIOManager(storage_uri=str(tmp_path / "s"), s3=S3Resource()),
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
            resources={"notifier": notifier},
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


def test_the_default_notifier_logs_and_links_runs_under_glimpse_ui_url():
    notifier = notifier_from_env({"GLIMPSE_UI_URL": "http://dagster.internal:3000/"})
    assert isinstance(notifier, LogNotifier)
    assert notifier.run_url("abc-123") == "http://dagster.internal:3000/runs/abc-123"
    assert notifier_from_env({}).run_url("abc-123") == "http://127.0.0.1:3000/runs/abc-123"
