"""The moderation check on text meant for publication; imported only with the openai provider."""

import dagster as dg

from glimpse_assets.llm.policy import LLM_POOL
from glimpse_assets.news.assets import image_prompt
from glimpse_assets.partitions import daily_partitions
from glimpse_assets.providers.openai_provider import OpenAITextProvider
from glimpse_assets.ranges import check_each_day


@dg.asset_check(asset=image_prompt, blocking=True, partitions_def=daily_partitions, pool=LLM_POOL)
def image_prompt_passes_moderation(
    context: dg.AssetCheckExecutionContext, image_prompt, text_provider: OpenAITextProvider
) -> dg.AssetCheckResult:
    """The prompt is text for publication: the provider's moderation endpoint must not flag it.
    Blocking: a flagged prompt is never drawn or posted. Defined only with the openai provider."""

    def moderate(day: str, image_prompt: dict) -> dg.AssetCheckResult:
        return moderation_result(context, text_provider, image_prompt["text"])

    return check_each_day(context, moderate, image_prompt=image_prompt)


def moderation_result(
    context: dg.AssetCheckExecutionContext, text_provider: OpenAITextProvider, text: str
) -> dg.AssetCheckResult:
    verdict, call_metadata = text_provider.moderate(context, text)
    return dg.AssetCheckResult(
        passed=not verdict.flagged,
        description=(
            f"flagged by {verdict.model}: {', '.join(verdict.categories) or 'no category given'}"
            if verdict.flagged
            else f"not flagged by {verdict.model}"
        ),
        metadata={
            "flagged": verdict.flagged,
            "categories": ", ".join(verdict.categories),
            **call_metadata,
        },
    )


moderation_checks = [image_prompt_passes_moderation]
