"""The post caption's daily quality: is it about the day's main story, and does it read as a
caption rather than an image prompt? (`quality.agreement`, with MiniLM.)

The caption written for readers (`social_post`'s stored `caption_text`, see
`publish.caption_text`) is compared with the story it was written from: the digest's main story,
its headline and lead (title and description). Image-prompt wording ("Visual motifs", "Style:")
fails it whatever its similarity. A day whose stored post has no `caption_text` (posted before
captions were written for readers, or posted earlier with another caption) is skipped. Called by
`publish.checks.social_post_caption_is_readable`; MiniLM loads when the first check runs.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from glimpse_assets.news.quality import main_story_text
from glimpse_assets.quality.agreement import agreement
from glimpse_assets.quality.checks import check_result
from glimpse_assets.quality.score import Score
from glimpse_assets.quality.similarity import minilm_embed
from glimpse_assets.skipped_checks import NothingToCheck

CAPTION_SCORE = "caption_digest_similarity"
# Calibrated on MiniLM over ten sample days (2026-11-01..10): the offline caption (the main
# story's lead) scores 0.68-0.91 against its main story, the previous day's caption 0.06-0.45
# (0.45 for a story of the same festival).
CAPTION_THRESHOLD = 0.5
# An image prompt's wording, never a caption's (the first complaint).
PROMPT_WORDING = ("Visual motifs", "Style:")


def caption_check(
    day: str, social_post: dict[str, Any], news_digest: dict[str, Any]
) -> dg.AssetCheckResult | NothingToCheck:
    caption = str(social_post.get("caption_text") or "")
    if not caption.strip():
        score = Score.skipped(
            CAPTION_SCORE,
            f"the stored post of {day} has no caption written for readers (caption_text): "
            "posted before such captions, or earlier with another caption",
        )
        return check_result(score)
    score = agreement(
        caption,
        main_story_text(news_digest),
        minilm_embed,
        CAPTION_THRESHOLD,
        forbidden=PROMPT_WORDING,
        name=CAPTION_SCORE,
    )
    written_by = social_post.get("caption_method") or social_post.get("caption_model") or "?"
    measured = (
        f"the post's caption of {day} ({len(caption)} characters; {written_by}) against the "
        "digest's main story"
    )
    return check_result(score, measured=measured)
