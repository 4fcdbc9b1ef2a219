"""Asset checks for the news lineage. The raw_news check blocks: an empty day stops the chain."""

from typing import TYPE_CHECKING

import dagster as dg

from glimpse_assets.asset_defaults import daily_asset_check
from glimpse_assets.news.assets import image_prompt, news_digest, news_image, raw_news
from glimpse_assets.news.image_prompt import PROMPT_MAX_WORDS, PROMPT_MIN_WORDS
from glimpse_assets.providers.base import ImageProvider
from glimpse_assets.ranges import check_each_day
from glimpse_assets.skipped_checks import NothingToCheck

if TYPE_CHECKING:
    import pandas as pd
    from PIL import Image

    from glimpse_assets.storage.formats import PngImage

MIN_IMAGE_SIDE = 512


@daily_asset_check(asset=raw_news, blocking=True)
def raw_news_has_articles(context: dg.AssetCheckExecutionContext, raw_news) -> dg.AssetCheckResult:
    """At least one article, with every expected column. Blocking: nothing downstream runs on an
    empty or malformed day."""
    return check_each_day(context, articles_check, raw_news=raw_news)


def articles_check(day: str, raw_news: "pd.DataFrame") -> dg.AssetCheckResult:
    from glimpse_assets.news.articles import RAW_NEWS_COLUMNS

    missing = [column for column in RAW_NEWS_COLUMNS if column not in raw_news.columns]
    if missing:
        return dg.AssetCheckResult(
            passed=False,
            description=f"raw_news for {day} lacks the columns {', '.join(missing)}",
            metadata={"missing_columns": ", ".join(missing)},
        )
    if raw_news.empty:
        return dg.AssetCheckResult(
            passed=False,
            description=f"no news articles for {day}: the news chain stops here for that day",
            metadata={"articles": 0, "day": day},
        )
    return dg.AssetCheckResult(
        passed=True,
        description=f"{len(raw_news)} articles for {day}",
        metadata={"articles": len(raw_news), "day": day},
    )


@daily_asset_check(asset=image_prompt)
def image_prompt_is_one_paragraph(
    context: dg.AssetCheckExecutionContext, image_prompt
) -> dg.AssetCheckResult:
    """One paragraph, no line breaks, within the word bounds."""
    return check_each_day(context, paragraph_check, image_prompt=image_prompt)


def paragraph_check(day: str, image_prompt: dict) -> dg.AssetCheckResult:
    text = image_prompt.get("text", "")
    words = len(text.split())
    problems = []
    if "\n" in text or "\r" in text:
        problems.append("contains line breaks")
    if not PROMPT_MIN_WORDS <= words <= PROMPT_MAX_WORDS:
        problems.append(f"has {words} words, outside {PROMPT_MIN_WORDS}-{PROMPT_MAX_WORDS}")
    return dg.AssetCheckResult(
        passed=not problems,
        description="; ".join(problems) or "one paragraph within bounds",
        metadata={"words": words},
    )


@daily_asset_check(asset=news_image)
def news_image_is_valid_png(
    context: dg.AssetCheckExecutionContext, news_image, image_provider: ImageProvider
) -> dg.AssetCheckResult:
    """The stored object decodes as a PNG of the provider's size, at least 512 pixels a side."""

    def png_check(day: str, news_image: "PngImage") -> dg.AssetCheckResult:
        return image_check(news_image.image, image_provider.size)  # decoding it checks the data

    return check_each_day(context, png_check, news_image=news_image)


def image_check(news_image: "Image.Image", size: int) -> dg.AssetCheckResult:
    expected = (size, size)
    problems = []
    if news_image.format != "PNG":
        problems.append(f"stored as {news_image.format}, not PNG")
    if news_image.size != expected:
        problems.append(
            f"is {news_image.size[0]}x{news_image.size[1]}, expected {expected[0]}x{expected[1]}"
        )
    if min(news_image.size) < MIN_IMAGE_SIDE:
        problems.append(f"is smaller than {MIN_IMAGE_SIDE}px a side")
    return dg.AssetCheckResult(
        passed=not problems,
        description="; ".join(problems) or "valid PNG of the expected size",
        metadata={"width": news_image.width, "height": news_image.height},
    )


@daily_asset_check(
    asset=image_prompt, additional_ins={"news_digest": dg.AssetIn(key=news_digest.key)}
)
def image_prompt_agrees_with_digest(
    context: dg.AssetCheckExecutionContext, image_prompt, news_digest
) -> dg.AssetCheckResult | NothingToCheck:
    """Prompt quality, measured daily: the MiniLM cosine similarity of the image prompt and the
    digest's main story (title and description; the offline prompt's fixed style sentence left
    out), wanted >= 0.35, and the prompt's rules (20 to 80 words). A warning below; skipped
    when the prompt or the main story is empty."""
    from glimpse_assets.news.quality import prompt_agreement_check

    return check_each_day(
        context, prompt_agreement_check, image_prompt=image_prompt, news_digest=news_digest
    )


news_checks = [raw_news_has_articles, image_prompt_is_one_paragraph, news_image_is_valid_png]
# Quality measured daily (glimpse_assets/quality): registered beside news_checks.
news_quality_checks = [image_prompt_agrees_with_digest]
