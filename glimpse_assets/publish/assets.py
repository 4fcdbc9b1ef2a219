"""social_post: the day's picture and caption, published once per publisher."""

import io
from datetime import date
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from glimpse_assets.dagster_compat import step_key
from glimpse_assets.news.assets import NEWS_GROUP
from glimpse_assets.partitions import BACKFILL_POLICY, HELD, daily_partitions, day_is_over
from glimpse_assets.publish.caption import build_caption
from glimpse_assets.publish.exactly_once import CLAIM_FIELDS, LEDGER_PREFIX, publish_once
from glimpse_assets.publish.notifiers import Notifier
from glimpse_assets.publish.publishers import Post, Publisher
from glimpse_assets.ranges import add_day_metadata, for_each_day
from glimpse_assets.storage.records import JsonRecords
from glimpse_assets.storage.resource import ObjectStoreResource

if TYPE_CHECKING:
    from PIL import Image


class SocialPostConfig(dg.Config):
    force: bool = Field(default=False, description="Post again although the day was posted.")


def png_of(image: "Image.Image") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=BACKFILL_POLICY,
    group_name=NEWS_GROUP,
    kinds={"python", "json"},
    description="The day's image and caption, published exactly once through the publisher.",
    retry_policy=dg.RetryPolicy(
        max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
    ),
)
def social_post(
    context: dg.AssetExecutionContext,
    config: SocialPostConfig,
    image_prompt,
    news_digest,
    news_image,
    news_publisher: Publisher,
    publish_notifier: Notifier,
    object_store: ObjectStoreResource,
):
    ledger = object_store.records(LEDGER_PREFIX)

    def post(day: date, image_prompt: dict, news_digest: dict, news_image) -> dict:
        return post_day(
            context,
            day,
            image_prompt,
            news_digest,
            news_image,
            news_publisher,
            publish_notifier,
            ledger,
            config.force,
        )

    return for_each_day(
        context,
        post,
        image_prompt=image_prompt,
        news_digest=news_digest,
        news_image=news_image,
    )


def claim_owner(context: dg.AssetExecutionContext) -> str:
    """Who holds a day's ledger claim: this run and step (a retry of the step is the same owner,
    so it reconciles its own attempt instead of waiting for itself)."""
    return f"run {context.run.run_id} step {step_key(context)}"


def post_day(
    context: dg.AssetExecutionContext,
    day: date,
    image_prompt: dict,
    news_digest: dict,
    news_image: "Image.Image",
    publisher: Publisher,
    notifier: Notifier,
    ledger: JsonRecords,
    force: bool,
) -> dict:
    """Publish one day's post once (see `publish_once`), notify, and return its ledger record."""
    categories = [item["category"] for item in news_digest["categories"]]
    post = Post(
        day=day.isoformat(),
        caption=build_caption(image_prompt["text"], categories),
        png=png_of(news_image),
        title=news_digest["main"]["title"],
        prompt=image_prompt["text"],
        headlines=[
            {"title": story["title"], "url": story["url"]}
            for story in [news_digest["main"], *news_digest["related"]]
        ],
    )
    if not day_is_over(day):
        return held_post(context, post, publisher)
    record, action = publish_once(ledger, publisher, post, force, owner=claim_owner(context))
    add_day_metadata(
        context,
        {
            "action": action,
            "publisher": publisher.kind,
            "caption": dg.MetadataValue.text(post.caption),
            **{f"receipt_{k}": str(v) for k, v in (record.get("receipt") or {}).items()},
        },
    )
    if action == "published":
        receipt = "\n".join(f"{k}: {v}" for k, v in sorted((record.get("receipt") or {}).items()))
        notifier.send(
            f"Glimpse posted {post.day} via {publisher.kind}",
            f"{post.caption}\n\n{receipt}\nRun: {notifier.run_url(context.run.run_id)}",
        )
    # What was posted where; the claim fields say which run posted it, which the ledger keeps.
    return {key: record[key] for key in sorted(record) if key not in {"state", *CLAIM_FIELDS}}


def held_post(context: dg.AssetExecutionContext, post: Post, publisher: Publisher) -> dict:
    """Today's partition is the day so far: its post is made, stored and shown, but not
    published (nor claimed in the ledger) until a run after the day ends, such as the next
    morning's schedule."""
    add_day_metadata(
        context,
        {
            "action": "held",
            "publisher": publisher.kind,
            "caption": dg.MetadataValue.text(post.caption),
            "held_because": HELD,
        },
    )
    return {
        "day": post.day,
        "status": "held",
        "held_because": HELD,
        "publisher": publisher.kind,
        "caption": post.caption,
        "title": post.title,
        "headlines": post.headlines,
    }
