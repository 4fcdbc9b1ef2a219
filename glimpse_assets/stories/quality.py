"""The activity stories' daily quality: no two stories of a day alike (`quality.variety`, with
MiniLM). The score is the cosine similarity of the day's most alike pair of stories, so lower is
better; the pair is named by row index (0-based, in the stored order), never quoted: a story is
about a person's activity. A day of fewer than two stories is skipped. Called by
`stories.checks.activity_stories_vary`; MiniLM loads when the first check runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from glimpse_assets.quality.checks import check_result
from glimpse_assets.quality.similarity import minilm_embed
from glimpse_assets.quality.variety import VARIETY_THRESHOLD, variety
from glimpse_assets.skipped_checks import NothingToCheck

if TYPE_CHECKING:
    import pandas as pd

VARIETY_SCORE = "max_pairwise_similarity"


def variety_check(day: str, activity_stories: pd.DataFrame) -> dg.AssetCheckResult | NothingToCheck:
    column = activity_stories["story"] if "story" in activity_stories.columns else []
    stories = [story if isinstance(story, str) else "" for story in column]
    score = variety(stories, minilm_embed, VARIETY_THRESHOLD, name=VARIETY_SCORE)
    return check_result(score, measured=f"the {len(stories)} stories of {day}, pair by pair")
