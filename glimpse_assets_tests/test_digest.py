"""build_digest: ranking, determinism, the text budget and the Markdown preview."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glimpse_assets.news.articles import articles_to_frame
from glimpse_assets.news.digest import (
    DigestBudget,
    EmptyNewsDayError,
    build_digest,
    digest_markdown,
)
from glimpse_assets.news.sources import sample_articles_for_day, sample_pool

DAY = date(2024, 5, 1)


def article(key: str, title: str, description: str, minute: int = 0, **overrides) -> dict:
    raw = {
        "id": key,
        "title": title,
        "description": description,
        "url": f"https://news.example/{key}",
        "author": "Desk",
        "image": None,
        "language": "en",
        "category": ["general"],
        "published": f"2024-05-01 10:{minute:02d}:00 +0000",
    }
    raw.update(overrides)
    return raw


def frame_of(articles: list[dict]) -> pd.DataFrame:
    frame, _ = articles_to_frame(articles, "sample", DAY)
    return frame


def reversed_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The same articles in the opposite order, so row order cannot decide a tie."""
    return frame.iloc[::-1].reset_index(drop=True)


def test_main_story_is_the_most_central_theme():
    theme = {
        "flood-a": (
            "River Ouse floods York city centre",
            "The river Ouse burst its banks in York, flooding streets in the city centre.",
        ),
        "flood-b": (
            "York flood defences fail as river rises",
            "Residents of York watched the river Ouse rise over the flood defences overnight.",
        ),
        "flood-c": (
            "Volunteers clean up after York flood",
            "Volunteers cleared mud from York homes after the river Ouse flood receded.",
        ),
    }
    others = {
        "chess": ("Chess prodigy wins junior title", "A twelve-year-old won the junior chess cup."),
        "bakery": ("Bakery launches rye sourdough", "A village bakery began selling rye loaves."),
    }
    articles = [
        article(key, title, text, minute)
        for minute, (key, (title, text)) in enumerate({**others, **theme}.items())
    ]
    digest = build_digest(frame_of(articles), DAY)
    assert digest["main"]["id"] in theme
    related_ids = [story["id"] for story in digest["related"]]
    assert set(related_ids[:2]) <= set(theme)
    assert set(related_ids[2:]) == set(others)
    assert digest["article_count"] == 5


SAME_TITLE = "Lantern festival lights the harbour"
SAME_TEXT = "Paper lanterns drift across the harbour"
# Stop words and single letters add length without adding TF-IDF terms: same centrality.
LONGER_TEXT = SAME_TEXT + " and then all of them were there"


def main_id(articles: list[dict]) -> str:
    return build_digest(reversed_rows(frame_of(articles)), DAY)["main"]["id"]


def test_tie_is_won_by_the_story_with_an_image():
    articles = [
        article("a", SAME_TITLE, SAME_TEXT, 1),
        article("b", SAME_TITLE, SAME_TEXT, 2, image="https://images.example/b.jpg"),
        article("c", SAME_TITLE, SAME_TEXT, 3),
    ]
    assert main_id(articles) == "b"


def test_tie_without_images_is_won_by_the_longer_description():
    articles = [
        article("a", SAME_TITLE, SAME_TEXT, 1),
        article("b", SAME_TITLE, SAME_TEXT, 2),
        article("c", SAME_TITLE, LONGER_TEXT, 3),
    ]
    digest = build_digest(reversed_rows(frame_of(articles)), DAY)
    centralities = {digest["main"]["centrality"], *(s["centrality"] for s in digest["related"])}
    assert len(centralities) == 1  # a genuine tie on centrality
    assert digest["main"]["id"] == "c"


def test_image_beats_a_longer_description():
    articles = [
        article("a", SAME_TITLE, LONGER_TEXT, 1),
        article("b", SAME_TITLE, SAME_TEXT, 2, image="https://images.example/b.jpg"),
    ]
    assert main_id(articles) == "b"


def test_tie_on_image_and_length_is_won_by_the_earlier_story():
    articles = [
        article("a", SAME_TITLE, SAME_TEXT, 30),
        article("z", SAME_TITLE, SAME_TEXT, 5),
        article("m", SAME_TITLE, SAME_TEXT, 20),
    ]
    assert main_id(articles) == "z"


def test_full_tie_is_won_by_the_smallest_id():
    articles = [
        article("b", SAME_TITLE, SAME_TEXT, 7),
        article("a", SAME_TITLE, SAME_TEXT, 7),
        article("c", SAME_TITLE, SAME_TEXT, 7),
    ]
    digest = build_digest(reversed_rows(frame_of(articles)), DAY)
    assert digest["main"]["id"] == "a"
    assert [story["id"] for story in digest["related"]] == ["b", "c"]


def sample_frame(day: date) -> pd.DataFrame:
    frame, _ = articles_to_frame(sample_articles_for_day(day, sample_pool()), "sample", day)
    return frame


def test_build_digest_is_deterministic():
    day = date(2024, 3, 14)
    assert build_digest(sample_frame(day), day) == build_digest(sample_frame(day), day)


@settings(max_examples=25, deadline=None)
@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    st.randoms(use_true_random=False),
)
@pytest.mark.slow
def test_build_digest_does_not_depend_on_row_order(day, rng):
    frame = sample_frame(day)
    order = list(range(len(frame)))
    rng.shuffle(order)
    expected = build_digest(frame, day)
    shuffled = build_digest(frame.iloc[order].reset_index(drop=True), day)
    assert shuffled["main"]["id"] == expected["main"]["id"]
    assert [s["id"] for s in shuffled["related"]] == [s["id"] for s in expected["related"]]
    assert shuffled["text"] == expected["text"]


def test_text_budget_holds_for_a_huge_and_crowded_day():
    huge = "<p>" + "Breaking: the council voted again on the harbour wall. " * 19_000 + "</p>"
    assert len(huge) > 1_000_000
    articles = [
        article(f"s{n:03d}", f"Story {n} about the harbour wall vote", f"Report number {n}.", 0)
        for n in range(199)
    ]
    articles.append(article("huge", "The harbour wall vote, in full", huge, 1))
    frame = frame_of(articles)
    assert len(frame) == 200
    budget = DigestBudget()
    digest = build_digest(frame, DAY, budget)
    assert digest["text_chars"] == len(digest["text"]) <= digest["budget_chars"]
    assert digest["budget_chars"] == budget.total_chars
    assert len(digest["main"]["description"]) <= budget.description_chars + 1
    assert len(digest["main"]["title"]) <= budget.title_chars
    assert len(digest["related"]) == budget.related_stories
    for story in digest["related"]:
        assert len(story["description"]) <= budget.related_description_chars
    assert digest["article_count"] == 200


@pytest.mark.parametrize("total_chars", [40, 150, 400, 1_000])
def test_text_stays_within_small_budgets(total_chars):
    budget = DigestBudget(total_chars=total_chars)
    digest = build_digest(sample_frame(DAY), DAY, budget)
    assert 0 < len(digest["text"]) <= total_chars
    assert digest["text"].startswith("Main story:")


def test_html_is_cleaned_and_emoji_kept_in_the_digest():
    articles = [
        article(
            "party",
            "<b>Fireworks</b> &amp; lanterns 🎆",
            "<p>Crowds cheered 🎉 as <i>fireworks</i> lit Zürich.</p><script>track()</script>",
            image="https://images.example/party.jpg",
        ),
        article("other", "Quiet day at the library", "Nothing much happened.", 1),
    ]
    digest = build_digest(frame_of(articles), DAY)
    assert digest["main"]["title"] == "Fireworks & lanterns 🎆"
    assert digest["main"]["description"] == "Crowds cheered 🎉 as fireworks lit Zürich."
    assert "<" not in digest["text"]
    assert "track()" not in digest["text"]
    assert "🎆" in digest["text"]


def test_empty_day_raises_an_error_naming_the_day():
    empty = frame_of([])
    with pytest.raises(EmptyNewsDayError, match="2024-05-01"):
        build_digest(empty, DAY)


def test_digest_is_json_ready_and_dated():
    digest = build_digest(sample_frame(DAY), DAY)
    assert digest["day"] == "2024-05-01"
    assert pd.Timestamp(digest["main"]["published"]).tzinfo is not None
    assert isinstance(digest["main"]["centrality"], float)
    counts = [item["articles"] for item in digest["categories"]]
    assert counts == sorted(counts, reverse=True)


def test_digest_markdown_contains_the_main_title():
    digest = build_digest(sample_frame(DAY), DAY)
    markdown = digest_markdown(digest)
    assert digest["main"]["title"] in markdown
    assert digest["main"]["url"] in markdown
    for story in digest["related"]:
        assert story["title"].replace("|", "/") in markdown


def test_cleaning_turns_exactly_the_control_characters_into_spaces_and_drops_the_invisible():
    """Every code point: a control character (Unicode category Cc) becomes a space, a surrogate
    (Cs) or an invisible mark (zero-width space, word joiner, BOM, soft hyphen) goes, any other
    character stays, as the digest's cleaning promises."""
    import sys
    import unicodedata

    from glimpse_assets.text import _drop_controls

    invisible = {"\u200b", "\u2060", "\ufeff", "\u00ad"}
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        category = unicodedata.category(char)
        expected = (
            " " if category == "Cc" else "" if category == "Cs" or char in invisible else char
        )
        assert _drop_controls(char) == expected, hex(code)
