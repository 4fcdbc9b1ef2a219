"""articles_to_frame: the raw_news table built from Currents-shaped article dicts."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from glimpse_assets.news.articles import RAW_NEWS_COLUMNS, articles_to_frame

DAY = date(2024, 5, 1)
NO_DROPS = {"no_text": 0, "no_id": 0, "outside_day": 0, "duplicate": 0}


def article(n: int, **overrides) -> dict:
    """A Currents API article published on DAY, at n minutes past 10:00 UTC."""
    raw = {
        "id": f"id-{n}",
        "title": f"Title {n}",
        "description": f"Description of story {n}.",
        "url": f"https://news.example/{n}",
        "author": f"Author {n}",
        "image": f"https://images.example/{n}.jpg",
        "language": "en",
        "category": ["general"],
        "published": f"2024-05-01 10:{n:02d}:00 +0000",
    }
    raw.update(overrides)
    return raw


def frame_of(articles: list) -> tuple[pd.DataFrame, dict[str, int]]:
    return articles_to_frame(articles, "currents", DAY)


def test_columns_are_exactly_the_raw_news_columns():
    frame, dropped = frame_of([article(1), article(2)])
    assert list(frame.columns) == RAW_NEWS_COLUMNS
    assert len(frame) == 2
    assert dropped == NO_DROPS
    assert set(frame["source"]) == {"currents"}


def test_published_is_utc_and_timezone_aware():
    frame, _ = frame_of(
        [
            article(1, published="2024-05-01 12:00:00 +0200"),
            article(2, published="2024-05-01T08:30:00"),  # naive: read as UTC
        ]
    )
    assert isinstance(frame["published"].dtype, pd.DatetimeTZDtype)
    assert str(frame["published"].dt.tz) == "UTC"
    assert list(frame["published"]) == [
        pd.Timestamp("2024-05-01 08:30", tz="UTC"),
        pd.Timestamp("2024-05-01 10:00", tz="UTC"),
    ]


def test_rows_are_in_publication_order():
    frame, _ = frame_of([article(30), article(5), article(17)])
    assert list(frame["id"]) == ["id-5", "id-17", "id-30"]


@pytest.mark.parametrize("marker", ["None", "none", "null", "", "  "])
def test_currents_none_image_is_missing(marker):
    frame, _ = frame_of([article(1, image=marker)])
    assert pd.isna(frame.loc[0, "image"])


def test_duplicate_ids_are_dropped_and_counted_keeping_the_earliest():
    frame, dropped = frame_of(
        [
            article(20, id="same", url="https://news.example/late"),
            article(10, id="same", url="https://news.example/early"),
            article(30),
        ]
    )
    assert list(frame["id"]) == ["same", "id-30"]
    assert frame.loc[0, "url"] == "https://news.example/early"
    assert dropped["duplicate"] == 1


def test_duplicate_urls_are_dropped_and_counted():
    frame, dropped = frame_of(
        [
            article(1, url="https://news.example/shared"),
            article(2, url="https://news.example/shared"),
            article(3),
        ]
    )
    assert list(frame["id"]) == ["id-1", "id-3"]
    assert dropped["duplicate"] == 1


def test_articles_without_urls_are_not_duplicates_of_each_other():
    frame, dropped = frame_of([article(1, url=None), article(2, url=None)])
    assert len(frame) == 2
    assert dropped["duplicate"] == 0


def test_articles_with_neither_title_nor_description_are_dropped():
    frame, dropped = frame_of(
        [
            article(1, title=None, description=None),
            article(2, title="", description="   "),
            article(3, title="<p></p>", description="\u200b"),
            article(4, title=None),  # a description alone is enough
            article(5, description=None),  # and so is a title
        ]
    )
    assert list(frame["id"]) == ["id-4", "id-5"]
    assert dropped["no_text"] == 3
    assert frame.loc[0, "title"] == ""
    assert frame.loc[1, "description"] == ""


def test_missing_optional_fields_are_handled():
    bare = {
        "id": "bare",
        "title": "Only a title",
        "url": "https://news.example/bare",
        "published": "2024-05-01 09:00:00 +0000",
    }
    frame, dropped = frame_of([bare])
    assert dropped == NO_DROPS
    row = frame.iloc[0]
    assert pd.isna(row["author"])
    assert pd.isna(row["image"])
    assert row["category"] == []
    assert row["language"] == "und"
    assert row["description"] == ""


def test_category_text_is_normalised():
    frame, _ = frame_of([article(1, category=["World", " world ", "Technology", ""])])
    assert frame.loc[0, "category"] == ["technology", "world"]
    frame, _ = frame_of([article(1, category="Science")])
    assert frame.loc[0, "category"] == ["science"]


def test_article_without_id_gets_one_from_its_url():
    frame, dropped = frame_of([article(1, id=None), article(2, id="None")])
    assert dropped == NO_DROPS
    assert all(frame["id"].str.startswith("url-"))
    assert frame["id"].nunique() == 2


def test_article_without_id_or_url_is_dropped():
    frame, dropped = frame_of([article(1, id=None, url=None)])
    assert frame.empty
    assert dropped["no_id"] == 1


@pytest.mark.parametrize(
    "published",
    [
        "2024-04-30 23:59:59 +0000",
        "2024-05-02 00:00:00 +0000",
        "2024-05-01 23:30:00 -0200",  # 01:30 the next day in UTC
        "not a date",
        None,
    ],
)
def test_article_published_outside_the_day_is_dropped_and_counted(published):
    frame, dropped = frame_of([article(1), article(2, published=published)])
    assert list(frame["id"]) == ["id-1"]
    assert dropped["outside_day"] == 1


def test_day_bounds_are_inclusive_at_midnight_and_exclusive_at_the_next():
    frame, dropped = frame_of(
        [
            article(1, published="2024-05-01 00:00:00 +0000"),
            article(2, published="2024-05-01 23:59:59 +0000"),
        ]
    )
    assert len(frame) == 2
    assert dropped == NO_DROPS


def test_non_dict_entries_are_counted():
    frame, dropped = frame_of([article(1), "junk", None, 42, ["list"]])
    assert list(frame["id"]) == ["id-1"]
    assert dropped["no_id"] == 4


def test_empty_list_gives_an_empty_frame_with_the_columns():
    frame, dropped = frame_of([])
    assert frame.empty
    assert list(frame.columns) == RAW_NEWS_COLUMNS
    assert isinstance(frame["published"].dtype, pd.DatetimeTZDtype)
    assert dropped == NO_DROPS


def test_title_and_description_are_kept_as_sent():
    frame, _ = frame_of([article(1, title="  <b>Big</b> news 🎉 ", description="Caf&eacute;")])
    assert frame.loc[0, "title"] == "<b>Big</b> news 🎉"
    assert frame.loc[0, "description"] == "Caf&eacute;"


def test_frame_round_trips_through_parquet(tmp_path):
    frame, _ = frame_of([article(1), article(2, image="None", author=None, category=None)])
    path = tmp_path / "raw_news.parquet"
    frame.to_parquet(path)
    back = pd.read_parquet(path)
    assert list(back.columns) == RAW_NEWS_COLUMNS
    assert list(back["id"]) == ["id-1", "id-2"]
    assert back["published"].equals(frame["published"])


def _with_lone_surrogate(field: str) -> dict:
    """An article with an unpaired surrogate, as json.loads returns for a "\\ud800" escape."""
    raw = article(1)
    raw[field] = ["sci\ud800ence"] if field == "category" else raw[field] + "\ud800"
    return raw


def test_json_escapes_can_carry_lone_surrogates():
    assert json.loads('"Ann \\ud800"') == "Ann \ud800"


@pytest.mark.parametrize("field", ["title", "description", "category"])
def test_lone_surrogates_in_text_fields_do_not_break_parquet(field, tmp_path):
    raw = _with_lone_surrogate(field)
    frame, dropped = frame_of([raw])
    assert dropped == NO_DROPS
    path = tmp_path / "raw_news.parquet"
    frame.to_parquet(path)
    back = pd.read_parquet(path)
    assert len(back) == 1
    assert back.loc[0, "id"] == "id-1"


@pytest.mark.parametrize("field", ["id", "url", "author", "image", "language"])
def test_lone_surrogates_in_other_fields_do_not_break_parquet(field, tmp_path):
    raw = _with_lone_surrogate(field)
    assert "\ud800" in raw[field]
    frame, _ = frame_of([raw])
    path = tmp_path / "raw_news.parquet"
    frame.to_parquet(path)
    assert len(pd.read_parquet(path)) == 1
