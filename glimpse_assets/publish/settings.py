"""The publish domain's settings: where the day's post goes and who hears about runs."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from glimpse_assets.settings import CommaList, HttpUrl, IsSet, Settings, choice


class PublishSettings(Settings):
    publisher: choice("outbox", "instagram", "email") = Field("outbox", alias="GLIMPSE_PUBLISHER")
    # instagram (INSTAGRAM_ACCESS_TOKEN is read at run time through EnvVar)
    instagram_access_token_set: IsSet = Field(False, alias="INSTAGRAM_ACCESS_TOKEN")
    instagram_user_id: str | None = Field(None, alias="INSTAGRAM_USER_ID")
    instagram_graph_api_url: HttpUrl = Field(
        "https://graph.facebook.com/v21.0", alias="INSTAGRAM_GRAPH_API_URL"
    )
    public_base_url: HttpUrl = Field(None, alias="GLIMPSE_PUBLIC_BASE_URL")
    # email (GLIMPSE_SMTP_PASSWORD is read at run time through EnvVar)
    smtp_host: str | None = Field(None, alias="GLIMPSE_SMTP_HOST")
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = Field(587, alias="GLIMPSE_SMTP_PORT")
    smtp_starttls: choice("true", "false") = Field("true", alias="GLIMPSE_SMTP_STARTTLS")
    smtp_ca_file: str | None = Field(None, alias="GLIMPSE_SMTP_CA_FILE")
    smtp_username: str | None = Field(None, alias="GLIMPSE_SMTP_USERNAME")
    smtp_password_set: IsSet = Field(False, alias="GLIMPSE_SMTP_PASSWORD")
    email_from: str | None = Field(None, alias="GLIMPSE_EMAIL_FROM")
    email_to: CommaList = Field(default_factory=list, alias="GLIMPSE_EMAIL_TO")
    # notices of posts and of failed runs
    notifier: choice("log", "sns", "slack") = Field("log", alias="GLIMPSE_NOTIFIER")
    ui_url: HttpUrl = Field("http://127.0.0.1:3000", alias="GLIMPSE_UI_URL")
    sns_topic_arn: str | None = Field(None, alias="GLIMPSE_SNS_TOPIC_ARN")
    slack_bot_token_set: IsSet = Field(False, alias="SLACK_BOT_TOKEN")
    slack_channel: str | None = Field(None, alias="GLIMPSE_SLACK_CHANNEL")
    slack_api_url: HttpUrl = Field("https://slack.com/api/", alias="SLACK_API_URL")
