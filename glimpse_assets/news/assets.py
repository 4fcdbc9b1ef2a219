"""The news lineage: raw_news -> news_digest -> image_prompt -> news_image (thin assets)."""

import io
from datetime import date

import dagster as dg
import pandas as pd
from PIL import Image

from glimpse_assets.llm.policy import LLM_POOL, LLMStepConfig, llm_retry_policy
from glimpse_assets.metadata import image_preview, markdown_table
from glimpse_assets.news.articles import articles_to_frame
from glimpse_assets.news.digest import build_digest, digest_markdown
from glimpse_assets.news.sources import NewsSource
from glimpse_assets.partitions import daily_partitions
from glimpse_assets.providers.base import ImageProvider, TextProvider

NEWS_GROUP = "news"


def partition_day(context: dg.AssetExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


@dg.asset(
    partitions_def=daily_partitions,
    group_name=NEWS_GROUP,
    kinds={"python", "parquet"},
    description="The day's articles from the configured news source, typed and de-duplicated.",
)
def raw_news(context: dg.AssetExecutionContext, news_source: NewsSource) -> pd.DataFrame:
    day = partition_day(context)
    batch = news_source.fetch_day(day)
    frame, dropped = articles_to_frame(batch.articles, news_source.kind, day)
    context.add_output_metadata(
        {
            "news_source": news_source.kind,
            "articles_received": len(batch.articles),
            **{f"dropped_{reason}": count for reason, count in dropped.items()},
            **{f"source_{name}": value for name, value in batch.details.items()},
            "preview": dg.MetadataValue.md(
                markdown_table(frame, ["published", "title", "category"], limit=10)
            ),
        }
    )
    return frame


@dg.asset(
    partitions_def=daily_partitions,
    group_name=NEWS_GROUP,
    kinds={"python", "json"},
    description="The day's articles combined into one cleaned, ranked and bounded input.",
)
def news_digest(context: dg.AssetExecutionContext, raw_news: pd.DataFrame) -> dict:
    digest = build_digest(raw_news, partition_day(context))
    context.add_output_metadata(
        {
            "main_story": digest["main"]["title"],
            "articles": digest["article_count"],
            "text_chars": digest["text_chars"],
            "preview": dg.MetadataValue.md(digest_markdown(digest)),
        }
    )
    return digest


@dg.asset(
    partitions_def=daily_partitions,
    group_name=NEWS_GROUP,
    kinds={"python", "json"},
    description="A one-paragraph image prompt for the day, written by the text provider.",
    pool=LLM_POOL,
    retry_policy=llm_retry_policy(),
)
def image_prompt(
    context: dg.AssetExecutionContext,
    config: LLMStepConfig,
    news_digest: dict,
    text_provider: TextProvider,
) -> dict:
    result = text_provider.write_image_prompt(context, news_digest, force=config.force)
    context.add_output_metadata(
        {
            "prompt": dg.MetadataValue.text(result.text),
            "words": len(result.text.split()),
            "provider": result.provider,
            "model": result.model,
            "method": result.method,
            **{f"usage_{name}": count for name, count in result.usage.items()},
        }
    )
    return {
        **result.to_dict(),
        "day": news_digest["day"],
        "main_story": news_digest["main"]["title"],
    }


@dg.asset(
    partitions_def=daily_partitions,
    group_name=NEWS_GROUP,
    kinds={"python", "png"},
    description="The day's picture, drawn by the image provider from the image prompt.",
    pool=LLM_POOL,
    retry_policy=llm_retry_policy(),
)
def news_image(
    context: dg.AssetExecutionContext,
    config: LLMStepConfig,
    image_prompt: dict,
    image_provider: ImageProvider,
) -> Image.Image:
    result = image_provider.draw(context, image_prompt["text"], force=config.force)
    image = Image.open(io.BytesIO(result.png))
    image.load()
    context.add_output_metadata(
        {
            "preview": image_preview(image),
            "width": image.width,
            "height": image.height,
            "provider": result.provider,
            "model": result.model,
            "method": result.method,
        }
    )
    return image


news_assets = [raw_news, news_digest, image_prompt, news_image]
