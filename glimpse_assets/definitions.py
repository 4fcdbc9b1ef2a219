"""The glimpse_assets code location. Every choice of implementation is made here, from the
environment, and nowhere else."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource
from dagster_slack import SlackResource

from glimpse_assets.news.assets import news_assets
from glimpse_assets.news.checks import news_checks
from glimpse_assets.news.sources import CurrentsNewsSource, RssNewsSource, SampleNewsSource
from glimpse_assets.providers.offline_image import OfflineImageProvider
from glimpse_assets.providers.offline_text import OfflineTextProvider
from glimpse_assets.publish.assets import social_post
from glimpse_assets.publish.notifiers import LogNotifier, SlackNotifier, SnsNotifier
from glimpse_assets.publish.publishers import (
    INSTAGRAM_GRAPH_API_URL,
    EmailPublisher,
    InstagramPublisher,
    OutboxPublisher,
)
from glimpse_assets.publish.sensors import notify_on_run_failure
from glimpse_assets.rides.assets import rides_assets
from glimpse_assets.rides.checks import rides_checks
from glimpse_assets.rides.sources import SimulatedRidesSource, TlcRidesSource
from glimpse_assets.rides.tlc import RidesSourceError, validate_template
from glimpse_assets.storage import DEFAULT_STORAGE_URI, GlimpseIOManager

NEWS_SOURCES = ("sample", "currents", "rss")
PUBLISHERS = ("outbox", "instagram", "email")
NOTIFIERS = ("log", "sns", "slack")
PROVIDERS = ("auto", "offline", "openai")


class ConfigurationError(ValueError):
    """An environment variable has a value Glimpse cannot use; the message names it."""


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = (env.get(name) or default).strip().lower()
    if value not in allowed:
        raise ConfigurationError(f"{name}={value!r} is not one of: {', '.join(allowed)}")
    return value


def news_source_from_env(env: Mapping[str, str]):
    kind = _choice(env, "GLIMPSE_NEWS_SOURCE", NEWS_SOURCES, "sample")
    if kind == "currents":
        if not env.get("CURRENTS_API_KEY"):
            raise ConfigurationError("GLIMPSE_NEWS_SOURCE=currents needs CURRENTS_API_KEY")
        return CurrentsNewsSource(
            api_key=dg.EnvVar("CURRENTS_API_KEY"),
            base_url=env.get("CURRENTS_API_URL") or "https://api.currentsapi.services",
            language=env.get("GLIMPSE_NEWS_LANGUAGE") or "en",
            category=env.get("GLIMPSE_NEWS_CATEGORY") or None,
        )
    if kind == "rss":
        feeds = [url.strip() for url in env.get("GLIMPSE_RSS_FEEDS", "").split(",") if url.strip()]
        if not feeds:
            raise ConfigurationError(
                "GLIMPSE_NEWS_SOURCE=rss needs GLIMPSE_RSS_FEEDS (comma-separated URLs)"
            )
        return RssNewsSource(feed_urls=feeds)
    return SampleNewsSource()


def rides_source_from_env(env: Mapping[str, str]):
    source = (env.get("GLIMPSE_RIDES_SOURCE") or "simulated").strip()
    city = {"city": env["GLIMPSE_RIDES_CITY"]} if env.get("GLIMPSE_RIDES_CITY") else {}
    if source.lower() == "simulated":
        raw_count = (env.get("GLIMPSE_RIDES_PER_DAY") or "10000").replace("_", "").strip()
        if not raw_count.isdigit():
            raise ConfigurationError(
                f"GLIMPSE_RIDES_PER_DAY must be a whole number of rides, got {raw_count!r}"
            )
        return SimulatedRidesSource(rides_per_day=int(raw_count), **city)
    try:
        validate_template(source)
    except RidesSourceError as error:
        raise ConfigurationError(
            f"GLIMPSE_RIDES_SOURCE must be 'simulated' or a TLC file path/URI template: {error}"
        ) from error
    return TlcRidesSource(template=source, **({"city": "New York City"} | city))


def provider_kind_from_env(env: Mapping[str, str]) -> str:
    kind = _choice(env, "GLIMPSE_PROVIDER", PROVIDERS, "auto")
    if kind == "auto":
        return "openai" if env.get("OPENAI_API_KEY") else "offline"
    if kind == "openai" and not env.get("OPENAI_API_KEY"):
        raise ConfigurationError(
            "GLIMPSE_PROVIDER=openai needs OPENAI_API_KEY (any non-empty value for a local "
            "server that takes no key)"
        )
    return kind


LLM_ASSETS = ["image_prompt", "news_image", "anomaly_summaries"]


def _number(env: Mapping[str, str], name: str, default: float | None, kind=float):
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a {kind.__name__}, got {raw!r}") from None
    if value < 0:
        raise ConfigurationError(f"{name} must not be negative, got {raw!r}")
    return value


def llm_calls_from_env(env: Mapping[str, str]):
    from glimpse_assets.llm.gateway import LLMCalls  # see providers_from_env

    return LLMCalls(
        storage_uri=env.get("GLIMPSE_STORAGE_URI") or DEFAULT_STORAGE_URI,
        s3=S3Resource(),
        daily_budget_usd=_number(env, "GLIMPSE_DAILY_BUDGET_USD", None),
        budget_asset_keys=LLM_ASSETS,
        prices_file=env.get("GLIMPSE_PRICES_FILE") or None,
        max_concurrency=max(1, _number(env, "GLIMPSE_LLM_MAX_CONCURRENCY", 8, int)),
        max_retries=_number(env, "GLIMPSE_LLM_MAX_RETRIES", 4, int),
        timeout_seconds=_number(env, "GLIMPSE_LLM_TIMEOUT_SECONDS", 120.0) or 120.0,
    )


def providers_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    if provider_kind_from_env(env) == "offline":
        return {"text_provider": OfflineTextProvider(), "image_provider": OfflineImageProvider()}
    # The OpenAI stack (about 0.6 s to import) is loaded only when it is used.
    from dagster_openai import OpenAIResource

    from glimpse_assets.providers.openai_provider import OpenAIImageProvider, OpenAITextProvider

    client = OpenAIResource(
        api_key=dg.EnvVar("OPENAI_API_KEY"), base_url=env.get("OPENAI_BASE_URL") or None
    )
    calls = llm_calls_from_env(env)
    return {
        "text_provider": OpenAITextProvider(
            openai=client, calls=calls, model=env.get("GLIMPSE_TEXT_MODEL") or "gpt-4o-mini"
        ),
        "image_provider": OpenAIImageProvider(
            openai=client, calls=calls, model=env.get("GLIMPSE_IMAGE_MODEL") or "gpt-image-1"
        ),
    }


def _required(env: Mapping[str, str], what: str, *names: str) -> None:
    missing = [name for name in names if not (env.get(name) or "").strip()]
    if missing:
        raise ConfigurationError(f"{what} needs {', '.join(missing)}")


def publisher_from_env(env: Mapping[str, str]):
    kind = _choice(env, "GLIMPSE_PUBLISHER", PUBLISHERS, "outbox")
    storage = {
        "storage_uri": env.get("GLIMPSE_STORAGE_URI") or DEFAULT_STORAGE_URI,
        "s3": S3Resource(),
    }
    if kind == "instagram":
        _required(env, "GLIMPSE_PUBLISHER=instagram", "INSTAGRAM_ACCESS_TOKEN", "INSTAGRAM_USER_ID")
        return InstagramPublisher(
            **storage,
            access_token=dg.EnvVar("INSTAGRAM_ACCESS_TOKEN"),
            user_id=env["INSTAGRAM_USER_ID"].strip(),
            graph_url=env.get("INSTAGRAM_GRAPH_API_URL") or INSTAGRAM_GRAPH_API_URL,
            public_base_url=env.get("GLIMPSE_PUBLIC_BASE_URL") or None,
        )
    if kind == "email":
        _required(
            env,
            "GLIMPSE_PUBLISHER=email",
            "GLIMPSE_SMTP_HOST",
            "GLIMPSE_EMAIL_FROM",
            "GLIMPSE_EMAIL_TO",
        )
        starttls = _choice(env, "GLIMPSE_SMTP_STARTTLS", ("true", "false"), "true") == "true"
        return EmailPublisher(
            **storage,
            host=env["GLIMPSE_SMTP_HOST"].strip(),
            port=int(_number(env, "GLIMPSE_SMTP_PORT", 587, int)),
            starttls=starttls,
            username=env.get("GLIMPSE_SMTP_USERNAME") or None,
            password=dg.EnvVar("GLIMPSE_SMTP_PASSWORD")
            if env.get("GLIMPSE_SMTP_PASSWORD")
            else None,
            sender=env["GLIMPSE_EMAIL_FROM"].strip(),
            recipients=[r.strip() for r in env["GLIMPSE_EMAIL_TO"].split(",") if r.strip()],
        )
    return OutboxPublisher(**storage)


def notifier_from_env(env: Mapping[str, str]):
    kind = _choice(env, "GLIMPSE_NOTIFIER", NOTIFIERS, "log")
    ui = {"ui_url": env.get("GLIMPSE_UI_URL") or "http://127.0.0.1:3000"}
    if kind == "sns":
        _required(env, "GLIMPSE_NOTIFIER=sns", "GLIMPSE_SNS_TOPIC_ARN")
        return SnsNotifier(**ui, topic_arn=env["GLIMPSE_SNS_TOPIC_ARN"].strip())
    if kind == "slack":
        _required(env, "GLIMPSE_NOTIFIER=slack", "SLACK_BOT_TOKEN", "GLIMPSE_SLACK_CHANNEL")
        return SlackNotifier(
            **ui,
            slack=SlackResource(token=dg.EnvVar("SLACK_BOT_TOKEN")),
            channel=env["GLIMPSE_SLACK_CHANNEL"].strip(),
        )
    return LogNotifier(**ui)


def resources_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    return {
        "io_manager": GlimpseIOManager(
            storage_uri=env.get("GLIMPSE_STORAGE_URI") or DEFAULT_STORAGE_URI, s3=S3Resource()
        ),
        "news_source": news_source_from_env(env),
        "rides_source": rides_source_from_env(env),
        "publisher": publisher_from_env(env),
        "notifier": notifier_from_env(env),
        **providers_from_env(env),
    }


news_job = dg.define_asset_job(
    "news_job",
    selection=dg.AssetSelection.groups("news"),
    description="The news lineage for one day, with its checks.",
)

rides_job = dg.define_asset_job(
    "rides_job",
    # raw_rides reads the day's headlines, so the job refreshes raw_news too, but without its
    # blocking check: a day without news still gets its rides report.
    selection=dg.AssetSelection.groups("rides")
    | dg.AssetSelection.assets("raw_news").without_checks(),
    description="The rides lineage for one day, with its checks.",
)

news_daily_schedule = dg.build_schedule_from_partitioned_job(
    news_job,
    name="news_daily_schedule",
    hour_of_day=8,
    minute_of_hour=0,
    description="08:00 UTC every day: the previous day's news partition.",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


rides_morning_schedule = dg.build_schedule_from_partitioned_job(
    rides_job,
    name="rides_morning_schedule",
    hour_of_day=6,
    minute_of_hour=0,
    description="06:00 UTC every day: the previous day's rides partition.",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


def build_definitions(env: Mapping[str, str] | None = None) -> dg.Definitions:
    env = os.environ if env is None else env
    resources = resources_from_env(env)
    # Moderation needs a moderation model: it is checked with the openai provider only, unless
    # GLIMPSE_MODERATION=off (for OpenAI-compatible servers without /v1/moderations).
    moderation = _choice(env, "GLIMPSE_MODERATION", ("on", "off"), "on") == "on"
    checks = [*news_checks, *rides_checks]
    if moderation and provider_kind_from_env(env) == "openai":
        from glimpse_assets.news.moderation import moderation_checks

        checks += moderation_checks
    return dg.Definitions(
        # Steps run one after another in the run's own process: a step costs no new process
        # (~3 s to import the code location), which is most of a daily run and of every backfill
        # chunk; parallelism comes from runs (backfill chunks run side by side). A crashed run
        # is retried as a new run (dagster.yaml), reusing the steps that succeeded.
        executor=dg.in_process_executor,
        assets=[*news_assets, social_post, *rides_assets],
        asset_checks=checks,
        jobs=[news_job, rides_job],
        schedules=[news_daily_schedule, rides_morning_schedule],
        sensors=[notify_on_run_failure],
        resources=resources,
    )


defs = build_definitions()
