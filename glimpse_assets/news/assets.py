"""The news lineage: raw_news -> news_digest -> image_prompt -> news_image (thin assets).

Each asset's logic is written for one day (`news.steps`, imported when the step runs) and run by
`for_each_day`, so the same asset serves a daily run and a backfill range (see `ranges`). Inputs
and outputs carry no type annotation: in a range run they are mappings from day to value, which a
DataFrame annotation would reject.
"""

from datetime import date
from functools import partial

import dagster as dg

from glimpse_assets.asset_defaults import daily_asset
from glimpse_assets.llm.policy import LLMStepConfig
from glimpse_assets.news.sources import NewsSource
from glimpse_assets.providers.base import ImageProvider, TextProvider
from glimpse_assets.ranges import for_each_day
from glimpse_assets.storage.resource import ObjectStoreResource

NEWS_GROUP = "news"


@daily_asset(
    domain=NEWS_GROUP,
    kinds={"pandas", "parquet"},
    description="The day's articles from the configured news source, typed and de-duplicated.",
)
def raw_news(context: dg.AssetExecutionContext, news_source: NewsSource):
    from glimpse_assets.news.steps import fetch_news

    return for_each_day(context, partial(fetch_news, context, news_source))


@daily_asset(
    domain=NEWS_GROUP,
    kinds={"json"},
    description="The day's articles combined into one cleaned, ranked and bounded input.",
)
def news_digest(context: dg.AssetExecutionContext, raw_news):
    from glimpse_assets.news.steps import digest_day

    return for_each_day(context, partial(digest_day, context), raw_news=raw_news)


@daily_asset(
    domain=NEWS_GROUP,
    kinds={"openai", "json"},
    calls_a_model=True,
    description="A one-paragraph image prompt for the day, written by the text provider.",
)
def image_prompt(
    context: dg.AssetExecutionContext,
    config: LLMStepConfig,
    news_digest,
    text_provider: TextProvider,
):
    from glimpse_assets.news.steps import write_prompt

    def write(day: date, news_digest: dict) -> dict:
        return write_prompt(context, text_provider, news_digest, config.force)

    return for_each_day(context, write, news_digest=news_digest)


@daily_asset(
    domain=NEWS_GROUP,
    kinds={"openai", "pillow", "png"},
    calls_a_model=True,
    description="The day's picture, drawn by the image provider from the image prompt; never a "
    "prompt that moderation flagged.",
)
def news_image(
    context: dg.AssetExecutionContext,
    config: LLMStepConfig,
    image_prompt,
    image_provider: ImageProvider,
    object_store: ObjectStoreResource,
):
    from glimpse_assets.llm.guardrails import MODERATION_PREFIX, ModerationVerdicts
    from glimpse_assets.news.steps import draw_image

    verdicts = ModerationVerdicts(object_store.records(MODERATION_PREFIX))

    def draw(day: date, image_prompt: dict):
        return draw_image(context, image_provider, image_prompt["text"], config.force, verdicts)

    return for_each_day(context, draw, image_prompt=image_prompt)


news_assets = [raw_news, news_digest, image_prompt, news_image]
