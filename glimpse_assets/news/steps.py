"""One day of each news asset: what `news.assets` runs for every day a run covers.

Imported by the assets when they run, so that loading the code location loads none of pandas,
Pillow or scikit-learn.
"""

from datetime import date

import dagster as dg
import pandas as pd

from glimpse_assets.llm.guardrails import ModerationVerdicts
from glimpse_assets.metadata import image_preview, markdown_table
from glimpse_assets.news.articles import articles_to_frame
from glimpse_assets.news.digest import build_digest, digest_markdown
from glimpse_assets.news.image_prompt import image_prompt_request
from glimpse_assets.news.sources import NewsSource
from glimpse_assets.providers.base import ImageProvider, TextProvider, output_errors_fail
from glimpse_assets.ranges import add_day_metadata
from glimpse_assets.storage.formats import PngImage


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


def write_prompt(
    context: dg.AssetExecutionContext, text_provider: TextProvider, news_digest: dict, force: bool
) -> dict:
    with output_errors_fail(f"the image prompt for {news_digest['day']}"):
        (result,) = text_provider.complete(
            context, [image_prompt_request(news_digest)], force=force
        )
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


def draw_image(
    context: dg.AssetExecutionContext,
    image_provider: ImageProvider,
    prompt: str,
    force: bool,
    verdicts: ModerationVerdicts,
) -> PngImage:
    """The picture for `prompt`; a non-retryable Failure naming the categories, before any call,
    when moderation flagged this exact prompt in this run or any earlier one, whichever provider
    draws it now. The provider's PNG is what is stored and published, as it came (not encoded
    again); the preview is made from the provider's pixels, or decodes the PNG (which checks it)."""
    verdicts.refuse_if_flagged(prompt)
    with output_errors_fail("the image"):
        result = image_provider.draw(context, prompt, force=force)
    image = PngImage(result.png, result.pixels)
    add_day_metadata(
        context,
        {
            "preview": image_preview(image.image),
            "width": image.width,
            "height": image.height,
            "provider": result.provider,
            "model": result.model,
            "method": result.method,
        },
    )
    return image
