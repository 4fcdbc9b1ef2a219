"""The news lineage: raw_news -> news_digest -> image_prompt -> news_image (thin assets).

Each asset's logic is written for one day and run by `for_each_day`, so the same asset serves a
daily run and a backfill range (see `ranges`). Inputs and outputs carry no type annotation:
in a range run they are mappings from day to value, which a DataFrame annotation would reject.
"""

import io
from datetime import date
from functools import partial

import dagster as dg
import pandas as pd
from PIL import Image

from glimpse_assets.llm.policy import LLM_POOL, LLMStepConfig, llm_retry_policy
from glimpse_assets.metadata import image_preview, markdown_table
from glimpse_assets.news.articles import articles_to_frame
from glimpse_assets.news.digest import build_digest, digest_markdown
from glimpse_assets.news.sources import NewsSource
from glimpse_assets.partitions import (
    PROVIDER_BACKFILL_POLICY,
    SINGLE_RUN_BACKFILL_POLICY,
    daily_partitions,
)
from glimpse_assets.providers.base import ImageProvider, TextProvider
from glimpse_assets.ranges import add_day_metadata, for_each_day

NEWS_GROUP = "news"


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=SINGLE_RUN_BACKFILL_POLICY,
    group_name=NEWS_GROUP,
    kinds={"python", "parquet"},
    description="The day's articles from the configured news source, typed and de-duplicated.",
)
def raw_news(context: dg.AssetExecutionContext, news_source: NewsSource):
    return for_each_day(context, partial(fetch_news, context, news_source))


def fetch_news(context: dg.AssetExecutionContext, news_source: NewsSource, day: date):
    batch = news_source.fetch_day(day)
    frame, dropped = articles_to_frame(batch.articles, news_source.kind, day)
    add_day_metadata(
        context,
        {
            "news_source": news_source.kind,
            "articles_received": len(batch.articles),
            **{f"dropped_{reason}": count for reason, count in dropped.items()},
            **{f"source_{name}": value for name, value in batch.details.items()},
            "preview": dg.MetadataValue.md(
                markdown_table(frame, ["published", "title", "category"], limit=10)
            ),
        },
    )
    return frame


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=SINGLE_RUN_BACKFILL_POLICY,
    group_name=NEWS_GROUP,
    kinds={"python", "json"},
    description="The day's articles combined into one cleaned, ranked and bounded input.",
)
def news_digest(context: dg.AssetExecutionContext, raw_news):
    return for_each_day(context, partial(digest_day, context), raw_news=raw_news)


def digest_day(context: dg.AssetExecutionContext, day: date, raw_news: pd.DataFrame) -> dict:
    digest = build_digest(raw_news, day)
    add_day_metadata(
        context,
        {
            "main_story": digest["main"]["title"],
            "articles": digest["article_count"],
            "text_chars": digest["text_chars"],
            "preview": dg.MetadataValue.md(digest_markdown(digest)),
        },
    )
    return digest


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=PROVIDER_BACKFILL_POLICY,
    group_name=NEWS_GROUP,
    kinds={"python", "json"},
    description="A one-paragraph image prompt for the day, written by the text provider.",
    pool=LLM_POOL,
    retry_policy=llm_retry_policy(),
)
def image_prompt(
    context: dg.AssetExecutionContext,
    config: LLMStepConfig,
    news_digest,
    text_provider: TextProvider,
):
    def write(day: date, news_digest: dict) -> dict:
        return write_prompt(context, text_provider, news_digest, config.force)

    return for_each_day(context, write, news_digest=news_digest)


def write_prompt(
    context: dg.AssetExecutionContext, text_provider: TextProvider, news_digest: dict, force: bool
) -> dict:
    result = text_provider.write_image_prompt(context, news_digest, force=force)
    add_day_metadata(
        context,
        {
            "prompt": dg.MetadataValue.text(result.text),
            "words": len(result.text.split()),
            "provider": result.provider,
            "model": result.model,
            "method": result.method,
            **{f"usage_{name}": count for name, count in result.usage.items()},
        },
    )
    return {
        **result.to_dict(),
        "day": news_digest["day"],
        "main_story": news_digest["main"]["title"],
    }


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=PROVIDER_BACKFILL_POLICY,
    group_name=NEWS_GROUP,
    kinds={"python", "png"},
    description="The day's picture, drawn by the image provider from the image prompt.",
    pool=LLM_POOL,
    retry_policy=llm_retry_policy(),
)
def news_image(
    context: dg.AssetExecutionContext,
    config: LLMStepConfig,
    image_prompt,
    image_provider: ImageProvider,
):
    def draw(day: date, image_prompt: dict) -> Image.Image:
        return draw_image(context, image_provider, image_prompt["text"], config.force)

    return for_each_day(context, draw, image_prompt=image_prompt)


def draw_image(
    context: dg.AssetExecutionContext, image_provider: ImageProvider, prompt: str, force: bool
) -> Image.Image:
    result = image_provider.draw(context, prompt, force=force)
    image = Image.open(io.BytesIO(result.png))
    image.load()
    add_day_metadata(
        context,
        {
            "preview": image_preview(image),
            "width": image.width,
            "height": image.height,
            "provider": result.provider,
            "model": result.model,
            "method": result.method,
        },
    )
    return image


news_assets = [raw_news, news_digest, image_prompt, news_image]
