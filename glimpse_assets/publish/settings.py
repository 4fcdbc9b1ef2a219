"""The publish domain's settings: where the day's post goes and who hears about runs.
INSTAGRAM_ACCESS_TOKEN, GLIMPSE_SMTP_PASSWORD and SLACK_BOT_TOKEN are secrets: the publishers and
the notifier read them at run time through `env_var`."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from glimpse_assets.settings import (
    CommaList,
    HttpUrl,
    Secret,
    ServedStorageSettings,
    choice,
)


class PublishSettings(ServedStorageSettings):
    """Where the day's post goes (`outbox`, Instagram or e-mail) and who hears about posts and
    failed runs."""

    publisher: choice("outbox", "instagram", "email") = Field(
        "outbox",
        alias="GLIMPSE_PUBLISHER",
        description="Where the day's post goes: `outbox` (a gallery page in the storage), "
        "`instagram` or `email`.",
    )
    # instagram
    instagram_access_token_set: Secret = Field(
        False,
        alias="INSTAGRAM_ACCESS_TOKEN",
        description="The Instagram Graph API access token, for `instagram`.",
    )
    instagram_user_id: str | None = Field(
        None,
        alias="INSTAGRAM_USER_ID",
        description="The Instagram professional account's user id, for `instagram`.",
    )
    instagram_graph_api_url: HttpUrl = Field(
        "https://graph.facebook.com/v21.0",
        alias="INSTAGRAM_GRAPH_API_URL",
        description="The Graph API's base URL, its version pinned.",
    )
    # email
    smtp_host: str | None = Field(
        None, alias="GLIMPSE_SMTP_HOST", description="The SMTP server, for `email`."
    )
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = Field(
        587, alias="GLIMPSE_SMTP_PORT", description="The SMTP server's port."
    )
    smtp_starttls: choice("true", "false") = Field(
        "true",
        alias="GLIMPSE_SMTP_STARTTLS",
        description="Whether to switch to TLS before logging in; a login without it is refused.",
    )
    smtp_ca_file: str | None = Field(
        None,
        alias="GLIMPSE_SMTP_CA_FILE",
        description="A PEM bundle of the CAs to trust for the SMTP server's certificate (e.g. a "
        "private CA); unset: the system's CAs. The certificate is verified either way.",
    )
    smtp_username: str | None = Field(
        None, alias="GLIMPSE_SMTP_USERNAME", description="The SMTP login's user name."
    )
    smtp_password_set: Secret = Field(
        False, alias="GLIMPSE_SMTP_PASSWORD", description="The SMTP login's password."
    )
    email_from: str | None = Field(
        None, alias="GLIMPSE_EMAIL_FROM", description="The e-mail's sender, for `email`."
    )
    email_to: CommaList = Field(
        default_factory=list,
        alias="GLIMPSE_EMAIL_TO",
        description="The e-mail's recipients, for `email`.",
    )
    # notices of posts and of failed runs
    notifier: choice("log", "sns", "slack") = Field(
        "log",
        alias="GLIMPSE_NOTIFIER",
        description="Who hears about posts and failed runs: `log` (the run's log), `sns` (an "
        "Amazon SNS topic) or `slack`.",
    )
    ui_url: HttpUrl = Field(
        "http://127.0.0.1:3000",
        alias="GLIMPSE_UI_URL",
        description="The Dagster UI's address, for the links to runs in notices.",
    )
    sns_topic_arn: str | None = Field(
        None, alias="GLIMPSE_SNS_TOPIC_ARN", description="The SNS topic's ARN, for `sns`."
    )
    slack_bot_token_set: Secret = Field(
        False, alias="SLACK_BOT_TOKEN", description="The Slack bot's token, for `slack`."
    )
    slack_channel: str | None = Field(
        None,
        alias="GLIMPSE_SLACK_CHANNEL",
        description="The Slack channel notices go to, e.g. `#glimpse`, for `slack`.",
    )
    slack_api_url: HttpUrl = Field(
        "https://slack.com/api/",
        alias="SLACK_API_URL",
        description="The Slack Web API's base URL.",
    )
