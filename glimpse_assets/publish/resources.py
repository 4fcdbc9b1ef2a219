"""The publish domain's resources, chosen from its settings: `news_publisher` (where the day's
post goes) and `publish_notifier` (who hears about posts and failed runs). Secrets (tokens,
passwords) go in through `dg.EnvVar` (`settings.env_var`): read when a run starts, never
copied into the definitions; one that is missing fails the step that needs it, saying so.
"""

from glimpse_assets.publish.notifiers import LogNotifier, Notifier, SlackNotifier, SnsNotifier
from glimpse_assets.publish.publishers import (
    EmailPublisher,
    InstagramPublisher,
    OutboxPublisher,
    Publisher,
)
from glimpse_assets.publish.settings import PublishSettings
from glimpse_assets.storage.resource import ObjectStoreResource


def news_publisher(settings: PublishSettings, object_store: ObjectStoreResource) -> Publisher:
    if settings.publisher == "instagram":
        return InstagramPublisher(
            object_store=object_store,
            access_token=settings.env_var("instagram_access_token_set"),
            user_id=settings.instagram_user_id or "",
            graph_url=settings.instagram_graph_api_url,
            public_base_url=settings.public_base_url,
        )
    if settings.publisher == "email":
        return EmailPublisher(
            object_store=object_store,
            host=settings.smtp_host or "",
            port=settings.smtp_port,
            starttls=settings.smtp_starttls == "true",
            ca_file=settings.smtp_ca_file,
            username=settings.smtp_username,
            password=settings.env_var("smtp_password_set"),
            sender=settings.email_from or "",
            recipients=settings.email_to,
        )
    return OutboxPublisher(object_store=object_store)


def publish_notifier(settings: PublishSettings) -> Notifier:
    if settings.notifier == "sns":
        return SnsNotifier(ui_url=settings.ui_url, topic_arn=settings.sns_topic_arn or "")
    if settings.notifier == "slack":
        return SlackNotifier(
            ui_url=settings.ui_url,
            token=settings.env_var("slack_bot_token_set"),
            channel=settings.slack_channel or "",
            base_url=settings.slack_api_url,
        )
    return LogNotifier(ui_url=settings.ui_url)


def publish_resources(settings: PublishSettings, object_store: ObjectStoreResource) -> dict:
    return {
        "news_publisher": news_publisher(settings, object_store),
        "publish_notifier": publish_notifier(settings),
    }
