"""One day of each stories asset and check: what `stories.assets` runs for every day a run
covers. Imported when a step runs, so the code location loads neither pandas nor requests."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from typing import Any

import dagster as dg
import pandas as pd

from glimpse_assets.metadata import markdown_table
from glimpse_assets.providers.base import TextProvider
from glimpse_assets.ranges import add_day_metadata, requests_made
from glimpse_assets.storage.object_store import ObjectStore
from glimpse_assets.storage.records import JsonRecords
from glimpse_assets.stories.activities import activities_frame
from glimpse_assets.stories.index import index_day
from glimpse_assets.stories.numbers import unmatched_numbers
from glimpse_assets.stories.sources import ActivitySource
from glimpse_assets.stories.story_text import story_request

STORY_COLUMNS = ["activity_id", "title", "story", "provider", "model", "method"]
PREVIEW_COLUMNS = ["activity_id", "sport_type", "distance_km", "moving_time_min"]


def activities_for_day(
    context: dg.AssetExecutionContext, source: ActivitySource, tokens: JsonRecords, day: date
) -> pd.DataFrame:
    """The activities that started on `day` (UTC), typed, each id once."""
    raw = source.activities_on(day, tokens)
    frame = activities_frame(raw)
    sports = Counter(frame["sport_type"].astype(str))
    add_day_metadata(
        context,
        {
            "source": source.kind,
            "activities": len(frame),
            "duplicates_dropped": len(raw) - len(frame),
            "sports": ", ".join(f"{sport} {n}" for sport, n in sorted(sports.items())) or "none",
            "distance_km_total": round(float(frame["distance_km"].fillna(0).sum()), 2),
            "preview": dg.MetadataValue.md(
                markdown_table(frame[PREVIEW_COLUMNS].round(2), PREVIEW_COLUMNS)
            ),
        },
    )
    return frame


def stories_frame(activity_ids: list[int], results: list[Any]) -> pd.DataFrame:
    answers = [json.loads(result.text) for result in results]
    columns = {
        "activity_id": pd.Series(activity_ids, dtype="int64"),
        "title": pd.Series([a["title"] for a in answers], dtype="string"),
        "story": pd.Series([a["story"] for a in answers], dtype="string"),
        "provider": pd.Series([r.provider for r in results], dtype="string"),
        "model": pd.Series([r.model for r in results], dtype="string"),
        "method": pd.Series([r.method for r in results], dtype="string"),
    }
    return pd.DataFrame(columns)[STORY_COLUMNS]


def stories_for_day(
    context: dg.AssetExecutionContext,
    text_provider: TextProvider,
    store: ObjectStore,
    force: bool,
    day: date,
    strava_activities: pd.DataFrame,
) -> pd.DataFrame:
    """One title and story per activity of the day, in the activities' order, and the day
    indexed by id for `GET /activities/{id}` (see `stories.index`)."""
    rows = strava_activities.to_dict("records")
    results = text_provider.complete(context, [story_request(row) for row in rows], force=force)
    stories = stories_frame([int(row["activity_id"]) for row in rows], results)
    index_day(store, day.isoformat(), stories["activity_id"])
    requests = requests_made(context, day, stories)
    add_day_metadata(
        context,
        {
            "stories": len(stories),
            **({"provider_calls": requests} if requests is not None else {}),
            "method": ", ".join(sorted(set(stories["method"].astype(str)))) or "none",
            "preview": dg.MetadataValue.md(
                markdown_table(stories, ["activity_id", "title", "story"], limit=5, width=120)
            ),
        },
    )
    return stories


def real_numbers_check(
    day: str, activity_stories: pd.DataFrame, strava_activities: pd.DataFrame
) -> dg.AssetCheckResult:
    """Every activity has one story, and every number in a title or story is one of its
    activity's metrics (see `stories.numbers`)."""
    problems: list[str] = []
    activities = {int(row["activity_id"]): row for row in strava_activities.to_dict("records")}
    story_ids = [int(i) for i in activity_stories["activity_id"]]
    if sorted(story_ids) != sorted(activities):
        missing = sorted(set(activities) - set(story_ids))
        extra = sorted(set(story_ids) - set(activities))
        repeated = len(story_ids) - len(set(story_ids))
        problems.append(
            f"stories do not match activities one to one (missing {missing or 'none'}, "
            f"unknown {extra or 'none'}, {repeated} repeated)"
        )
    invented: dict[int, list[str]] = {}
    for row in activity_stories.to_dict("records"):
        activity = activities.get(int(row["activity_id"]))
        if activity is None:
            continue
        numbers = unmatched_numbers(f"{row['title']}\n{row['story']}", activity)
        if numbers:
            invented[int(row["activity_id"])] = numbers
    if invented:
        problems.append(
            "numbers that match none of the activity's metrics: "
            + "; ".join(f"activity {i}: {', '.join(n)}" for i, n in sorted(invented.items()))
        )
    return dg.AssetCheckResult(
        passed=not problems,
        description="; ".join(problems)
        or f"{len(story_ids)} stories, every number from its activity",
        metadata={
            "stories": len(story_ids),
            "activities": len(activities),
            "stories_with_invented_numbers": len(invented),
        },
    )
