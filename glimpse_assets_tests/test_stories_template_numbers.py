"""The offline story template against its own blocking numbers check, over generated activities:
odd but possible ones too (no distance, a ride without `average_speed`, a negative or zero
time, NaN, huge numbers). The template must never write a number the check refuses."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from glimpse_assets.stories.activities import (
    FOOT_SPORTS,
    WATER_SPORTS,
    WHEEL_SPORTS,
    activities_frame,
)
from glimpse_assets.stories.steps import real_numbers_check
from glimpse_assets.stories.story_text import metric_lines, offline_story, parse_story

STRAVA_TIME = "%Y-%m-%dT%H:%M:%SZ"
SPORTS = [
    *sorted(FOOT_SPORTS | WHEEL_SPORTS | WATER_SPORTS),
    *("Workout", "WeightTraining", "Yoga", "Rowing", "Kitesurf", ""),
]
ZONES = ["(GMT+00:00) Europe/London", "(GMT-08:00) America/Los_Angeles", "(GMT+05:45) Nowhere"]


def _measure(low: float, high: float) -> st.SearchStrategy[Any]:
    """A metric as Strava may send it: absent, null, zero, negative, tiny, NaN or infinite."""
    return st.one_of(
        st.none(),
        st.just(0),
        st.integers(int(low), int(high)),
        st.floats(low, high),
        st.floats(-0.5, 0.5),
        st.sampled_from([float("nan"), float("inf"), -1.0, 0.01, 0.49, 0.5, 0.51, 29.99]),
    )


@st.composite
def strava_activities(draw: st.DrawFn) -> dict[str, Any]:
    """One SummaryActivity, with any field left out."""
    start = draw(st.datetimes(datetime(2000, 1, 1), datetime(2035, 12, 31)))
    offset = draw(st.integers(-12 * 60, 14 * 60))
    fields = {
        "name": draw(st.text(max_size=40)),
        "sport_type": draw(st.sampled_from(SPORTS)),
        "timezone": draw(st.sampled_from(ZONES)),
        "distance": draw(_measure(-1_000, 2_000_000)),
        "moving_time": draw(_measure(-600, 400_000)),
        "elapsed_time": draw(_measure(-600, 400_000)),
        "total_elevation_gain": draw(_measure(-100, 20_000)),
        "max_speed": draw(_measure(-5, 150)),
        "average_speed": draw(_measure(-5, 100)),
        "average_heartrate": draw(_measure(-10, 260)),
        "has_heartrate": draw(st.booleans()),
    }
    kept = {k: v for k, v in fields.items() if draw(st.booleans()) or k == "sport_type"}
    return {
        "id": draw(st.integers(1, 2**63 - 1)),
        "start_date": start.replace(tzinfo=UTC).strftime(STRAVA_TIME),
        "start_date_local": (start + timedelta(minutes=offset)).strftime(STRAVA_TIME),
        **kept,
    }


def template_problems(raw: dict[str, Any]) -> list[str]:
    """What is wrong with the template's story of `raw`: the check's refusal, or its shape."""
    frame = activities_frame([raw])
    title, story = offline_story(frame.iloc[0])
    problems = []
    try:
        parse_story(json.dumps({"title": title, "story": story}))
    except Exception as error:  # reported as the problem it is
        problems.append(str(error))
    stories = pd.DataFrame(
        {"activity_id": frame["activity_id"], "title": [title], "story": [story]}
    )
    result = real_numbers_check("day", stories, frame)
    if not result.passed:
        problems.append(f"{result.description} in {title!r} / {story!r}")
    return problems


ODD = [
    {"sport_type": "Run", "distance": 5000, "moving_time": -300},  # "-5 minutes"
    {"sport_type": "Ride", "distance": 20_000, "moving_time": 3600},  # no average_speed
    {"sport_type": "Run", "distance": 3000, "moving_time": 0},  # "0 minutes" with a distance
    {"sport_type": "Swim", "distance": 1, "moving_time": 20},  # a tiny distance
    {"sport_type": "Walk", "average_heartrate": -4, "has_heartrate": True, "moving_time": 600},
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strava_activities())
@example({"id": 1, "start_date": "2026-03-02T07:00:00Z", **ODD[0]})
@example({"id": 2, "start_date": "2026-03-02T07:00:00Z", **ODD[1]})
@example({"id": 3, "start_date": "2026-03-02T07:00:00Z", **ODD[2]})
@example({"id": 4, "start_date": "2026-03-02T07:00:00Z", **ODD[3]})
@example({"id": 5, "start_date": "2026-03-02T07:00:00Z", **ODD[4]})
@pytest.mark.slow
def test_the_template_never_writes_a_number_its_check_refuses(raw):
    assert template_problems(raw) == []


# Said of none of the odd activities: a negative number, zero minutes, zero km, a speed or a
# heart rate (none of them has a real one).
NOT_SAID = [
    r"-\d",
    r"(?<![\d.])0 minutes",
    r"(?<![\d.])0-minute",
    r"(?<![\d.])0\.0+ km",
    "km/h",
    "bpm",
]


def test_odd_values_are_left_out_of_the_story():
    for number, fields in enumerate(ODD, start=1):
        raw = {"id": number, "start_date": "2026-03-02T07:00:00Z", **fields}
        title, story = offline_story(activities_frame([raw]).iloc[0])
        text = f"{title} {story}"
        for pattern in NOT_SAID:
            assert not re.search(pattern, text), (pattern, text)


def test_odd_values_are_left_out_of_the_prompt_too():
    """A model is told to use only the numbers it is given: it must not be given these."""
    for number, fields in enumerate(ODD, start=1):
        raw = {"id": number, "start_date": "2026-03-02T07:00:00Z", **fields}
        prompt = "\n".join(metric_lines(activities_frame([raw]).iloc[0]))
        for pattern in NOT_SAID:
            assert not re.search(pattern, prompt), (pattern, prompt)
