"""Who hears about a failed run or the day's post: `log` (default), `sns` or `slack`."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod

import dagster as dg

from glimpse_assets.llm.guardrails import redact
from glimpse_assets.publish.settings import PublishSettings
from glimpse_assets.settings import setting

SNS_SUBJECT_LIMIT = 100  # characters, an SNS rule


class NotifyError(RuntimeError):
    pass


class Notifier(dg.ConfigurableResource, ABC):
    ui_url: str = setting(PublishSettings, "ui_url")

    @property
    @abstractmethod
    def kind(self) -> str: ...

    @abstractmethod
    def send(self, subject: str, text: str) -> None: ...

    def run_url(self, run_id: str) -> str:
        return f"{self.ui_url.rstrip('/')}/runs/{run_id}"


class LogNotifier(Notifier):
    """Writes notifications to the `glimpse.notifications` log (and so to the Dagster UI's logs
    where one is captured)."""

    @property
    def kind(self) -> str:
        return "log"

    def send(self, subject: str, text: str) -> None:
        logging.getLogger("glimpse.notifications").warning("%s\n%s", subject, text)


class SnsNotifier(Notifier):
    """Amazon SNS (or any endpoint AWS_ENDPOINT_URL points at): subscribers get e-mail, SMS..."""

    topic_arn: str = setting(PublishSettings, "sns_topic_arn", required=True)

    @property
    def kind(self) -> str:
        return "sns"

    def send(self, subject: str, text: str) -> None:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        if not self.topic_arn:
            raise NotifyError("GLIMPSE_NOTIFIER=sns needs GLIMPSE_SNS_TOPIC_ARN")
        short = subject if len(subject) <= SNS_SUBJECT_LIMIT else subject[:97] + "..."
        try:
            boto3.client("sns").publish(TopicArn=self.topic_arn, Subject=short, Message=text)
        except (BotoCoreError, ClientError) as error:
            raise NotifyError(f"SNS publish to {self.topic_arn} failed: {error}") from error


class SlackNotifier(Notifier):
    """A Slack channel through slack_sdk's Web API client (loaded when a message is sent)."""

    token: str | None = setting(PublishSettings, "slack_bot_token_set")
    channel: str = setting(PublishSettings, "slack_channel", required=True)
    base_url: str = setting(PublishSettings, "slack_api_url")

    @property
    def kind(self) -> str:
        return "slack"

    def send(self, subject: str, text: str) -> None:
        from slack_sdk import WebClient
        from slack_sdk.errors import SlackApiError

        if not self.token or not self.channel:
            raise NotifyError(
                "GLIMPSE_NOTIFIER=slack needs SLACK_BOT_TOKEN and GLIMPSE_SLACK_CHANNEL"
            )
        client = WebClient(token=self.token, base_url=self.base_url)
        try:
            client.chat_postMessage(channel=self.channel, text=f"*{subject}*\n{text}")
        except (SlackApiError, OSError) as error:  # OSError: urllib's URLError, timeouts
            message = redact(
                f"Slack chat.postMessage to {self.channel} failed: {error}", [self.token]
            )
            raise NotifyError(message) from None
