"""The moderation check on text meant for publication; imported only with the openai provider.

Each verdict is also recorded on the object store (`llm.guardrails.ModerationVerdicts`, under
`_moderation/`), and `news_image` refuses a prompt flagged now or by any earlier run: a flagged
prompt is never drawn, even when the check is skipped or the image is materialised alone later.
"""

import dagster as dg

from glimpse_assets.llm.guardrails import MODERATION_PREFIX, ModerationVerdicts
from glimpse_assets.llm.policy import LLM_POOL
from glimpse_assets.news.assets import image_prompt
from glimpse_assets.partitions import daily_partitions
from glimpse_assets.providers.openai_provider import OpenAITextProvider
from glimpse_assets.ranges import check_each_day
from glimpse_assets.storage.resource import ObjectStoreResource


@dg.asset_check(asset=image_prompt, blocking=True, partitions_def=daily_partitions, pool=LLM_POOL)
def image_prompt_passes_moderation(
    context: dg.AssetCheckExecutionContext,
    image_prompt,
    text_provider: OpenAITextProvider,
    object_store: ObjectStoreResource,
) -> dg.AssetCheckResult:
    """The prompt is text for publication: the provider's moderation endpoint must not flag it.
    Blocking, and recorded: a flagged prompt is never drawn or posted, in this run or a later
    one. Defined only with the openai provider."""
    verdicts = ModerationVerdicts(object_store.records(MODERATION_PREFIX))

    def moderate(day: str, image_prompt: dict) -> dg.AssetCheckResult:
        return moderation_result(context, text_provider, image_prompt["text"], verdicts, day)

    return check_each_day(context, moderate, image_prompt=image_prompt)


def moderation_result(
    context: dg.AssetCheckExecutionContext,
    text_provider: OpenAITextProvider,
    text: str,
    verdicts: ModerationVerdicts | None = None,
    day: str | None = None,
) -> dg.AssetCheckResult:
    """The verdict on `text`, recorded in `verdicts`; a text flagged before fails even when the
    model passes it now (the flag stands until its record is deleted)."""
    verdict, call_metadata = text_provider.moderate(context, text)
    record = {"flagged": verdict.flagged, "categories": verdict.categories}
    recorded = {}
    if verdicts is not None:
        record = verdicts.add(
            text,
            flagged=verdict.flagged,
            categories=verdict.categories,
            model=verdict.model,
            day=day,
        )
        recorded = {"verdict_record": verdicts.uri(text)}
    if verdict.flagged:
        description = (
            f"flagged by {verdict.model}: {', '.join(verdict.categories) or 'no category given'}"
        )
    elif record["flagged"]:
        description = (
            f"not flagged by {verdict.model} now, but flagged before "
            f"({', '.join(record['categories']) or 'no category given'}): the flag stands "
            f"until {recorded.get('verdict_record', 'its record')} is deleted"
        )
    else:
        description = f"not flagged by {verdict.model}"
    return dg.AssetCheckResult(
        passed=not record["flagged"],
        description=description,
        metadata={
            "flagged": verdict.flagged,
            "categories": ", ".join(verdict.categories),
            "flagged_before": bool(record["flagged"]) and not verdict.flagged,
            **recorded,
            **call_metadata,
        },
    )


moderation_checks = [image_prompt_passes_moderation]
