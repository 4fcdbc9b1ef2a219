"""The answers' daily quality (SMS replies and `GET /ask`, as `answers_given` keeps them): is each
answer grounded in the hits it was made from, does it cite one of them, does it fit an SMS?

Three scores, each over the day's answers:

- `grounded_share_mean`: each answer's sentences (its citation taken out) held to its sources'
  sentences by MiniLM similarity (`quality.grounding`, a sentence supported at >=
  `GROUNDING_THRESHOLD`, as for the anomaly summaries); the mean share of supported sentences,
  wanted >= `GROUNDED_MEAN_THRESHOLD`, every answer at least `ANSWER_MIN_SHARE`. A source is its
  title and its article's text (`sms.answers.article_text`).
- `cited_share`: the share of answers that end with the citation (title and day,
  `sms.answers.citation`) of one of their sources, wanted 1.
- `within_length_share`: the share of answers of at most `MAX_REPLY_CHARS` characters, wanted 1.

A day without answers is skipped (`skipped_checks.NothingToCheck`: nothing measured, no
result), never passed.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from glimpse_assets.quality.checks import check_result
from glimpse_assets.quality.grounding import grounding
from glimpse_assets.quality.score import Score, aggregate
from glimpse_assets.quality.similarity import Embed, minilm_embed
from glimpse_assets.skipped_checks import NothingToCheck
from glimpse_assets.sms.answers import MAX_REPLY_CHARS, article_text, citation

if TYPE_CHECKING:
    import dagster as dg
    import pandas as pd

GROUNDED_SCORE = "grounded_share_mean"
CITED_SCORE = "cited_share"
LENGTH_SCORE = "within_length_share"
GROUNDED_MEAN_THRESHOLD = 0.9
# An answer is one or two sentences: one of two may connect rather than state.
ANSWER_MIN_SHARE = 0.5


def source_text(source: dict[str, Any]) -> str:
    """What an answer is held to from one hit: its title, then its article's text."""
    chunk = {"title": source.get("title"), "text": source.get("text")}
    return f"{source.get('title') or ''}\n{article_text(chunk)}".strip()


def cites_a_source(answer: str, sources: list[dict[str, Any]]) -> bool:
    """Whether the answer ends with the title and day of one of its sources."""
    text = answer.strip()
    return any(
        text.endswith(citation({"title": s.get("title"), "published": s.get("day")}))
        for s in sources
    )


def answer_scores(
    answers: list[tuple[str, list[dict[str, Any]]]], embed: Embed = minilm_embed
) -> tuple[Score, Score, Score]:
    """The three scores (see the module doc) of `answers`: (text, its sources) pairs."""
    if not answers:
        reason = "no answer given"
        return (
            Score.skipped(GROUNDED_SCORE, reason),
            Score.skipped(CITED_SCORE, reason),
            Score.skipped(LENGTH_SCORE, reason),
        )
    grounded = aggregate(
        [
            grounding(text, [source_text(s) for s in sources], embed, min_share=ANSWER_MIN_SHARE)
            for text, sources in answers
        ],
        GROUNDED_SCORE,
        GROUNDED_MEAN_THRESHOLD,
    )
    uncited = [i for i, (text, sources) in enumerate(answers) if not cites_a_source(text, sources)]
    too_long = [i for i, (text, _) in enumerate(answers) if len(text) > MAX_REPLY_CHARS]
    cited = Score.measured(
        CITED_SCORE,
        1 - len(uncited) / len(answers),
        1.0,
        {"answers": len(answers), "uncited": uncited},
    )
    within = Score.measured(
        LENGTH_SCORE,
        1 - len(too_long) / len(answers),
        1.0,
        {
            "answers": len(answers),
            "too_long": too_long,
            "max_chars": MAX_REPLY_CHARS,
            "longest_chars": max(len(text) for text, _ in answers),
        },
    )
    return grounded, cited, within


def table_answers(answers_given: pd.DataFrame) -> list[tuple[str, list[dict[str, Any]]]]:
    """(text, sources) of each row of `answers_given` (its `sources` column is JSON)."""
    if answers_given.empty:
        return []
    return [
        (str(row["answer"]), json.loads(row["sources"]))
        for row in answers_given[["answer", "sources"]].to_dict("records")
    ]


def answers_quality_check(
    day: str, answers_given: pd.DataFrame, embed: Embed = minilm_embed
) -> dg.AssetCheckResult | NothingToCheck:
    answers = table_answers(answers_given)
    if not answers:
        return check_result(*answer_scores([]), measured=f"the answers of {day}")
    channels = Counter(answers_given["channel"].astype(str))
    measured = (
        f"{len(answers)} answers of {day} ("
        + ", ".join(f"{channel} {n}" for channel, n in sorted(channels.items()))
        + "), each against the hits it was made from"
    )
    return check_result(*answer_scores(answers, embed), measured=measured)
