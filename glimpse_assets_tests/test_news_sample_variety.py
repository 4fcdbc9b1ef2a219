"""The sample news source varies the day's main story: consecutive days, and the days of one
Monday-to-Sunday week, never share it, so neither do their prompts and pictures (issue 11)."""

from __future__ import annotations

import hashlib
import itertools
from datetime import date, timedelta

import pytest

from glimpse_assets.news.articles import articles_to_frame
from glimpse_assets.news.digest import build_digest
from glimpse_assets.news.image_prompt import compose_image_prompt
from glimpse_assets.news.sources import sample_articles_for_day, sample_pool
from glimpse_assets.providers.landscape import render_prompt_image

# Ninety days from a Saturday: with the former draw, seven pairs of consecutive days in it
# shared their main story (2025-03-04 and 03-05, 03-22 and 03-23, ...).
FIRST_DAY = date(2025, 3, 1)
DAYS = [FIRST_DAY + timedelta(days=n) for n in range(90)]


def digest_of(day: date, **bounds: int) -> dict:
    frame, _ = articles_to_frame(
        sample_articles_for_day(day, sample_pool(), **bounds), "sample", day
    )
    return build_digest(frame, day)


def pool_id(article_id: str, day: date) -> str:
    return article_id.removesuffix(f"-{day:%Y%m%d}")


@pytest.fixture(scope="module")
def main_stories() -> dict[date, str]:
    return {day: pool_id(digest_of(day)["main"]["id"], day) for day in DAYS}


@pytest.mark.slow
def test_no_two_consecutive_days_share_a_main_story(main_stories):
    repeats = [
        (day, main_stories[day])
        for day, next_day in itertools.pairwise(DAYS)
        if main_stories[day] == main_stories[next_day]
    ]
    assert repeats == []


def test_the_days_of_a_week_have_seven_different_main_stories_every_time(main_stories):
    mondays = [day for day in DAYS if day.weekday() == 0 and day + timedelta(days=6) in DAYS]
    assert len(mondays) >= 10
    for monday in mondays:
        week = [monday + timedelta(days=n) for n in range(7)]
        stories = [main_stories[day] for day in week]
        assert len(set(stories)) == 7, (monday, stories)
        # Drawn again, in the opposite order, each day gives the same main story.
        assert [pool_id(digest_of(day)["main"]["id"], day) for day in week[::-1]] == stories[::-1]


def test_thirty_consecutive_days_give_thirty_different_prompts_and_pictures():
    days = DAYS[:30]
    prompts = [compose_image_prompt(digest_of(day)) for day in days]
    pictures = [hashlib.sha256(render_prompt_image(p, 256).tobytes()).hexdigest() for p in prompts]
    for earlier, later in zip(range(29), range(1, 30), strict=True):
        assert prompts[earlier] != prompts[later], days[later]
        assert pictures[earlier] != pictures[later], days[later]


def test_small_bounds_keep_the_guarantee():
    days = DAYS[:21]
    mains = [
        pool_id(digest_of(day, min_articles=3, max_articles=3)["main"]["id"], day) for day in days
    ]
    assert all(a != b for a, b in itertools.pairwise(mains))
