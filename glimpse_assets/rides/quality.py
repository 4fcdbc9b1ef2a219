"""The anomaly summaries' daily quality: is every sentence of a summary supported by what it was
written from? (`quality.grounding`, with MiniLM.) And, with a model, a judge's grade.

A summary was written from its rides' conditions (`news`, `weather`, `traffic`) and `facts`: when,
where and how many of the day's rides stood out and how. A stored summary row holds the facts
(computed from the clustered rides by `summaries.ride_facts`, not from the summary) but not the
conditions, which are read from the day's clustered_rides by `ride_id`. Those four texts are the
summary's sources. Rows share a summary per distinct context, so each distinct (summary, sources)
is scored once (`outputs`), then the day's scores are aggregated (`quality.score.aggregate`): the
mean share of supported sentences, wanted >= `GROUNDED_MEAN_THRESHOLD`, every summary at least
`SUMMARY_MIN_SHARE` and within `SUMMARY_MAX_WORDS` words; `verbatim_share_mean` says how much of
it is copied from a source word for word.

The judge (`quality.judge`) grades at most `JUDGE_OUTPUTS` summaries a day, through the text
provider (so with the openai provider through the gateway: cached, costed, within the day's
budget). Offline there is no judge: its score is skipped, and the metadata says why. A judge that
fails (the budget, a server down, an answer off its schema) is a skipped score too: it never
fails the check on its own account.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import dagster as dg

from glimpse_assets.quality.checks import check_result
from glimpse_assets.quality.grounding import grounding
from glimpse_assets.quality.judge import JUDGE_THRESHOLD, judge_request, judge_score
from glimpse_assets.quality.score import Score, aggregate
from glimpse_assets.quality.similarity import minilm_embed
from glimpse_assets.rides.conditions import CONTEXT_COLUMNS
from glimpse_assets.rides.summary_text import SUMMARY_MAX_WORDS
from glimpse_assets.skipped_checks import NothingToCheck

if TYPE_CHECKING:
    import pandas as pd

    from glimpse_assets.providers.base import TextProvider

GROUNDED_SCORE = "grounded_share_mean"
JUDGE_SCORE = "judge_grade_mean"
GROUNDED_MEAN_THRESHOLD = 0.9
# A summary may say in one sentence of three what the conditions suggest rather than state.
SUMMARY_MIN_SHARE = 2 / 3
JUDGE_OUTPUTS = 3  # summaries a day put before the judge, at most
SOURCE_COLUMNS = [*CONTEXT_COLUMNS, "facts"]
JUDGE_WHAT = "a summary of unusual taxi rides and the conditions they went through"


def with_conditions(anomaly_summaries: pd.DataFrame, clustered_rides: pd.DataFrame) -> pd.DataFrame:
    """The summary rows with their rides' conditions from clustered_rides (by `ride_id`)."""
    wanted = [c for c in CONTEXT_COLUMNS if c in clustered_rides.columns]
    summaries = anomaly_summaries.drop(columns=wanted, errors="ignore")
    if "ride_id" not in summaries.columns or "ride_id" not in clustered_rides.columns:
        return summaries
    conditions = clustered_rides[["ride_id", *wanted]].astype("string")
    keys = summaries["ride_id"].astype("string")
    return summaries.assign(ride_id=keys).merge(conditions, on="ride_id", how="left")


def distinct_summaries(rows: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """Each distinct (summary, its sources) of the day's rows (`with_conditions`), in a stable
    order; a row without a summary is left out, and so is a source the stored day lacks."""
    columns = [column for column in SOURCE_COLUMNS if column in rows.columns]
    if rows.empty or "summary" not in rows.columns:
        return []
    rows = rows[["summary", *columns]].astype("string").fillna("")
    rows = rows[rows["summary"].str.strip() != ""].drop_duplicates()
    rows = rows.sort_values(["summary", *columns], kind="stable")
    return [
        (row["summary"], [row[column] for column in columns if row[column].strip()])
        for row in rows.to_dict("records")
    ]


def grounded(outputs: list[tuple[str, list[str]]]) -> Score:
    scores = [
        grounding(
            summary,
            sources,
            minilm_embed,
            min_share=SUMMARY_MIN_SHARE,
            max_words=SUMMARY_MAX_WORDS,
        )
        for summary, sources in outputs
    ]
    score = aggregate(scores, GROUNDED_SCORE, GROUNDED_MEAN_THRESHOLD)
    verbatim = [s.details["verbatim_share"] for s in scores if "verbatim_share" in s.details]
    if score.is_skipped or not verbatim:
        return score
    return replace(
        score, details={**score.details, "verbatim_share_mean": sum(verbatim) / len(verbatim)}
    )


def judged(
    context: Any, text_provider: TextProvider | None, outputs: list[tuple[str, list[str]]]
) -> Score:
    if not outputs:
        return Score.skipped(JUDGE_SCORE, "no summary to judge")
    if text_provider is None:
        return Score.skipped(JUDGE_SCORE, "no text provider to judge with")
    chosen = outputs[:JUDGE_OUTPUTS]
    requests = [judge_request(summary, sources, JUDGE_WHAT) for summary, sources in chosen]
    try:
        results = text_provider.complete(context, requests)
    except Exception as error:  # the judge is optional: its failure is said, not raised
        reason = " ".join(f"the judge failed: {type(error).__name__}: {error}".split())[:300]
        return Score.skipped(JUDGE_SCORE, reason, {"outputs": len(chosen)})
    scores = [judge_score(result) for result in results]
    score = aggregate(scores, JUDGE_SCORE, JUDGE_THRESHOLD)
    return replace(score, details={**score.details, "judged_of": len(outputs)})


def summaries_quality_check(
    context: Any,
    day: str,
    anomaly_summaries: pd.DataFrame,
    clustered_rides: pd.DataFrame,
    text_provider: TextProvider | None = None,
) -> dg.AssetCheckResult | NothingToCheck:
    outputs = distinct_summaries(with_conditions(anomaly_summaries, clustered_rides))
    if not outputs:
        reason = f"no anomalous ride on {day}: no summary to ground"
        return check_result(
            Score.skipped(GROUNDED_SCORE, reason), judged(context, text_provider, [])
        )
    measured = (
        f"{len(outputs)} distinct summaries of {day} ({len(anomaly_summaries)} anomalous rides), "
        "each against its news, weather, traffic and ride facts"
    )
    return check_result(
        grounded(outputs), judged(context, text_provider, outputs), measured=measured
    )
