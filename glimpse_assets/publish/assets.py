"""social_post: the day's picture and caption, published once per publisher."""

import io
from datetime import date
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from glimpse_assets.asset_defaults import daily_asset
from glimpse_assets.dagster_compat import step_key
from glimpse_assets.news.assets import NEWS_GROUP
from glimpse_assets.partitions import HELD, day_is_over
from glimpse_assets.providers.base import TextProvider
from glimpse_assets.publish.caption import build_caption
from glimpse_assets.publish.caption_text import Caption, write_caption
from glimpse_assets.publish.notifiers import Notifier
from glimpse_assets.publish.publishers import Post, Publisher
from glimpse_assets.ranges import add_day_metadata, for_each_day
from glimpse_assets.storage.exactly_once import CLAIM_FIELDS, LEDGER_PREFIX, publish_once
from glimpse_assets.storage.formats import PngImage
from glimpse_assets.storage.records import JsonRecords
from glimpse_assets.storage.resource import ObjectStoreResource

if TYPE_CHECKING:
    from PIL import Image


class SocialPostConfig(dg.Config):
    force: bool = Field(default=False, description="Post again although the day was posted.")


def png_of(image: "PngImage | Image.Image") -> bytes:
    """The picture's PNG bytes: a stored picture's as they were stored (no second encoding)."""
    if isinstance(image, PngImage):
        return image.png
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@daily_asset(
    domain="publish",
    group_name=NEWS_GROUP,  # the day's post ends the news lineage in the UI
    kinds={"openai", "pillow", "instagram", "email", "json"},
    # The caption is written by the text provider: the step runs in the llm pool and its calls
    # count against the budget. Its retries are for publishing only: a caption that cannot be
    # written fails the step once (caption_text.write_caption), and a retry after a publishing
    # error reuses the cached caption.
    calls_a_model=True,
    description="The day's image and a caption written for readers from the day's digest, "
    "published exactly once through the publisher; the image prompt is kept in metadata.",
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
    text_provider: TextProvider,
):
    ledger = object_store.records(LEDGER_PREFIX)

    def post(day: date, image_prompt: dict, news_digest: dict, news_image) -> dict:
        caption = write_caption(context, text_provider, news_digest)
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
            caption,
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
    news_image: "PngImage | Image.Image",
    publisher: Publisher,
    notifier: Notifier,
    ledger: JsonRecords,
    force: bool,
    caption: Caption,
) -> dict:
    """Publish one day's post once (see `publish_once`), notify, and return its ledger record
    with the caption's parts (when the caption posted is this one) and the image prompt."""
    categories = [item["category"] for item in news_digest["categories"]]
    post = Post(
        day=day.isoformat(),
        caption=build_caption(caption.text, categories, sources=caption.sources),
        png=png_of(news_image),
        title=news_digest["main"]["title"],
        prompt=image_prompt["text"],
        headlines=[
            {"title": story["title"], "url": story["url"]}
            for story in [news_digest["main"], *news_digest["related"]]
        ],
        caption_text=caption.text,
        sources=caption.sources,
    )
    if not day_is_over(day):
        return held_post(context, post, publisher, caption)
    record, action = publish_once(ledger, publisher, post, force, owner=claim_owner(context))
    add_day_metadata(
        context,
        {
            "action": action,
            "publisher": publisher.kind,
            **caption_metadata(post, caption),
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
    posted = {key: record[key] for key in sorted(record) if key not in {"state", *CLAIM_FIELDS}}
    if record.get("caption") == post.caption:  # not a day posted earlier with another caption
        posted |= caption_parts(caption)
    return {**posted, "image_prompt": post.prompt}


def caption_metadata(post: Post, caption: Caption) -> dict:
    """The caption as posted and as written (by what), and the image prompt beside it."""
    return {
        "caption": dg.MetadataValue.text(post.caption),
        "caption_text": dg.MetadataValue.text(caption.text),
        "caption_chars": len(caption.text),
        "caption_provider": caption.provider,
        "caption_model": caption.model,
        "caption_method": caption.method,
        **{f"caption_usage_{name}": count for name, count in caption.usage.items()},
        "image_prompt": dg.MetadataValue.text(post.prompt),
    }


def caption_parts(caption: Caption) -> dict:
    """What the SMS text and readers of the stored post need of the caption."""
    return {
        "caption_text": caption.text,
        "sources": caption.sources,
        "caption_method": caption.method,
        "caption_model": caption.model,
    }


def held_post(
    context: dg.AssetExecutionContext, post: Post, publisher: Publisher, caption: Caption
) -> dict:
    """Today's partition is the day so far: its post is made, stored and shown, but not
    published (nor claimed in the ledger) until a run after the day ends, such as the next
    morning's schedule."""
    add_day_metadata(
        context,
        {
            "action": "held",
            "publisher": publisher.kind,
            **caption_metadata(post, caption),
            "held_because": HELD,
        },
    )
    return {
        "day": post.day,
        "status": "held",
        "held_because": HELD,
        "publisher": publisher.kind,
        "caption": post.caption,
        **caption_parts(caption),
        "title": post.title,
        "headlines": post.headlines,
        "image_prompt": post.prompt,
    }
