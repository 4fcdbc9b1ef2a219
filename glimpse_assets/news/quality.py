"""The image prompt's daily quality: does it still talk about the day's main story, and does it
keep its rules? (`quality.agreement`, with MiniLM.)

The prompt is compared with the digest's main story (its title and description: what the image
illustrates), not with the whole digest, whose related stories would dilute it; the fixed style
sentence of the offline prompt (`STYLE_SENTENCE`) is left out of the comparison. The rules are
the prompt's own (`PROMPT_MIN_WORDS` to `PROMPT_MAX_WORDS` words). Called by
`news.checks.image_prompt_agrees_with_digest`; MiniLM loads when the first check runs.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from glimpse_assets.news.image_prompt import PROMPT_MAX_WORDS, PROMPT_MIN_WORDS, STYLE_SENTENCE
from glimpse_assets.quality.agreement import AGREEMENT_THRESHOLD, agreement
from glimpse_assets.quality.checks import check_result
from glimpse_assets.quality.similarity import minilm_embed
from glimpse_assets.skipped_checks import NothingToCheck

PROMPT_SCORE = "prompt_digest_similarity"


def main_story_text(digest: dict[str, Any]) -> str:
    """The digest's main story as one text: its title, then its description (as the agreement
    threshold was calibrated: benchmarks/quality_week.py)."""
    main = digest.get("main") or {}
    parts = [str(main.get(key) or "").strip() for key in ("title", "description")]
    return ". ".join(part for part in parts if part)


def prompt_agreement_check(
    day: str, image_prompt: dict[str, Any], news_digest: dict[str, Any]
) -> dg.AssetCheckResult | NothingToCheck:
    score = agreement(
        str(image_prompt.get("text") or ""),
        main_story_text(news_digest),
        minilm_embed,
        AGREEMENT_THRESHOLD,
        min_words=PROMPT_MIN_WORDS,
        max_words=PROMPT_MAX_WORDS,
        ignore=[STYLE_SENTENCE],
        name=PROMPT_SCORE,
    )
    provider = image_prompt.get("provider") or "an unknown provider"
    measured = f"the image prompt of {day} (by {provider}) against the digest's main story"
    return check_result(score, measured=measured)
