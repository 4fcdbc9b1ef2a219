"""block_conditions / attach_conditions: news, weather and traffic per 3-hour block of a day, and
where each one came from: headlines in turn or by publication time, invented or unknown weather
and traffic, or observations from a conditions file."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from glimpse_assets.rides.conditions import (
    BLOCK_COLUMNS,
    BLOCKS_PER_DAY,
    CONTEXT_COLUMNS,
    INVENTED_FROM,
    NEWS_IN_TURN_FROM,
    NO_NEWS,
    NO_NEWS_YET,
    NOT_CONFIGURED_FROM,
    NOT_KNOWN,
    SOURCE_COLUMNS,
    attach_conditions,
    block_conditions,
    conditions_pool,
)
from glimpse_assets.rides.simulate import simulate_rides
from glimpse_assets.rides.templates import RidesSourceError

DAY = date(2026, 3, 2)
HEADLINES = [f"Headline number {i}" for i in range(10)]


def news_frame(titles: list[str], published: list[str] | None = None) -> pd.DataFrame:
    """raw_news as the news chain stores it (only the columns conditions read)."""
    if published is None:  # one an hour from 00:30, in the list's order
        published = [f"2026-03-02 {hour:02d}:30:00+00:00" for hour in range(len(titles))]
    return pd.DataFrame(
        {
            "id": [f"a{i:03d}" for i in range(len(titles))],
            "title": titles,
            "published": pd.to_datetime(published, utc=True),
        }
    )


def in_turn(titles: list[str], day: date = DAY) -> pd.DataFrame:
    """The simulated rides' rule: headlines in turn, invented weather and traffic."""
    return block_conditions(day, news_frame(titles), news_by_publication_time=False)


@pytest.fixture(scope="module")
def rides() -> pd.DataFrame:
    return simulate_rides(DAY, 5_000)


@pytest.fixture(scope="module")
def with_conditions(rides) -> pd.DataFrame:
    return attach_conditions(rides, in_turn(HEADLINES))


# -- attaching a day's blocks to its rides -----------------------------------------------------


def test_adds_the_block_columns_and_keeps_the_rides(rides, with_conditions):
    assert list(with_conditions.columns) == [*rides.columns, *CONTEXT_COLUMNS, *SOURCE_COLUMNS]
    pd.testing.assert_frame_equal(with_conditions[rides.columns], rides)
    assert "news" not in rides.columns  # the input frame is not modified


def test_block_columns_are_categorical(with_conditions):
    for column in BLOCK_COLUMNS:
        assert isinstance(with_conditions[column].dtype, pd.CategoricalDtype), column
        assert with_conditions[column].notna().all(), column


def test_at_most_8_distinct_contexts_per_day(with_conditions):
    triples = with_conditions[CONTEXT_COLUMNS].astype(str).drop_duplicates()
    assert 1 <= len(triples) <= BLOCKS_PER_DAY == 8


def test_rides_in_the_same_3_hour_block_share_the_context(with_conditions):
    blocks = with_conditions["pickup_at"].dt.hour // 3
    assert blocks.nunique() == 8  # 5,000 rides reach every block
    per_block = with_conditions[BLOCK_COLUMNS].astype(str).groupby(blocks.to_numpy()).nunique()
    assert (per_block == 1).all().all()


def test_each_ride_carries_its_block_row(with_conditions):
    table = in_turn(HEADLINES)
    blocks = (with_conditions["pickup_at"].dt.hour // 3).to_numpy()
    for column in BLOCK_COLUMNS:
        expected = table[column].to_numpy()[blocks]
        assert (with_conditions[column].astype(str).to_numpy() == expected).all(), column


def test_empty_rides_get_empty_block_columns(rides):
    attached = attach_conditions(rides.iloc[:0], in_turn(HEADLINES))
    assert attached.empty
    assert list(attached.columns) == [*rides.columns, *BLOCK_COLUMNS]


# -- simulated rides: headlines in turn, invented weather and traffic, labelled as such ---------


def test_block_conditions_has_one_row_per_block_from_the_pool():
    table = in_turn(HEADLINES)
    pool = conditions_pool()
    assert list(table.columns) == BLOCK_COLUMNS
    assert len(table) == 8
    assert set(table["weather"]) <= set(pool["weather"])
    assert set(table["traffic"]) <= set(pool["traffic"])
    assert set(table["weather_from"]) == set(table["traffic_from"]) == {INVENTED_FROM}
    assert "invented" in INVENTED_FROM and "not a real record" in INVENTED_FROM
    assert set(table["news_from"]) == {NEWS_IN_TURN_FROM}


def test_headlines_come_in_publication_order_by_block():
    published = [f"2026-03-02 {23 - i:02d}:00:00+00:00" for i in range(10)]  # newest first
    table = block_conditions(DAY, news_frame(HEADLINES, published), news_by_publication_time=False)
    assert table["news"].tolist() == HEADLINES[::-1][:8]


def test_fewer_headlines_than_blocks_repeat_in_order():
    news = in_turn(["first", "second", "third"])["news"].tolist()
    assert news == ["first", "second", "third", "first", "second", "third", "first", "second"]


def test_blank_headlines_are_skipped():
    assert in_turn(["", "only one", "  "])["news"].tolist() == ["only one"] * 8


@pytest.mark.parametrize("titles", [[], [""], ["", ""]])
def test_no_headlines_give_the_no_news_text(rides, titles):
    table = in_turn(titles)
    assert table["news"].tolist() == [NO_NEWS] * 8
    assert set(attach_conditions(rides, table)["news"].astype(str)) == {NO_NEWS}


def test_same_day_gives_the_same_conditions(rides):
    pd.testing.assert_frame_equal(in_turn(HEADLINES), in_turn(HEADLINES))


def test_weather_and_traffic_do_not_depend_on_the_headlines():
    columns = ["weather", "traffic", "weather_from", "traffic_from"]
    pd.testing.assert_frame_equal(in_turn(HEADLINES)[columns], in_turn([])[columns])


def test_invented_conditions_differ_between_days():
    days = [date(2026, 3, 1) + timedelta(days=i) for i in range(10)]
    tables = {
        tuple(map(tuple, in_turn(HEADLINES, d)[["weather", "traffic"]].to_numpy())) for d in days
    }
    assert len(tables) > 1
    first, second = (in_turn(HEADLINES, d) for d in days[:2])
    assert not first[["weather", "traffic"]].equals(second[["weather", "traffic"]])


def test_an_invented_day_has_one_weather_and_a_traffic_per_block():
    # A city has one sky a day: never snow flurries beside a warm thunderstorm. The weather is
    # drawn once from the day's seed; only the traffic changes from block to block.
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(120)]
    tables = [in_turn(HEADLINES, d) for d in days]
    for day, table in zip(days, tables, strict=True):
        assert table["weather"].nunique() == 1, (day, sorted(set(table["weather"])))
    weathers = {table["weather"].iloc[0] for table in tables}
    assert weathers == set(conditions_pool()["weather"])  # over 120 days, every one is drawn
    assert sum(table["traffic"].nunique() > 1 for table in tables) > 100


def test_the_days_weather_is_the_first_draw_of_the_days_seed():
    import random

    from glimpse_assets.days import day_seed

    for day in (DAY, DAY + timedelta(days=1), date(2027, 7, 14)):
        expected = random.Random(day_seed(day, "conditions")).choice(conditions_pool()["weather"])
        assert set(in_turn(HEADLINES, day)["weather"]) == {expected}


# -- real rides: the headline of each block's time, nothing invented ----------------------------


def by_time(raw_news: pd.DataFrame, **options) -> pd.DataFrame:
    return block_conditions(DAY, raw_news, news_by_publication_time=True, **options)


def test_each_block_carries_the_newest_headline_published_before_it_ends():
    raw_news = news_frame(
        ["Late story", "Early story", "Breakfast story", "Morning story"],
        [
            "2026-03-02 20:00:00+00:00",
            "2026-03-02 01:00:00+00:00",
            "2026-03-02 07:30:00+00:00",
            "2026-03-02 07:45:00+00:00",
        ],
    )
    table = by_time(raw_news, conditions="none")
    assert table["news"].tolist() == [
        "Early story",  # 00-03
        "Early story",  # 03-06: nothing newer yet
        "Morning story",  # 06-09: the newer of the two published in the block
        "Morning story",
        "Morning story",
        "Morning story",
        "Late story",  # 18-21
        "Late story",
    ]
    assert table["news_from"].tolist()[:3] == [
        "raw_news headline published 01:00 UTC",
        "raw_news headline published 01:00 UTC",
        "raw_news headline published 07:45 UTC",
    ]


def test_a_block_before_the_first_headline_says_there_was_none_yet():
    table = by_time(news_frame(["Noon story"], ["2026-03-02 12:10:00+00:00"]), conditions="none")
    assert table["news"].tolist() == [NO_NEWS_YET] * 4 + ["Noon story"] * 4
    assert table["news_from"].tolist()[0] == "no raw_news headline published before 03:00 UTC"
    assert table["news_from"].tolist()[3] == "no raw_news headline published before 12:00 UTC"


def test_headlines_are_placed_on_the_rides_clock():
    # 13:30 UTC is 08:30 in New York on 2 March (EST, UTC-5): the 06-09 block of a TLC day.
    raw_news = news_frame(["Bridge closed"], ["2026-03-02 13:30:00+00:00"])
    table = by_time(raw_news, conditions="none", timezone="America/New_York")
    assert table["news"].tolist() == [NO_NEWS_YET] * 2 + ["Bridge closed"] * 6
    assert table["news_from"].tolist()[2] == ("raw_news headline published 08:30 America/New_York")


def test_real_rides_without_a_conditions_source_have_unknown_weather_and_traffic():
    table = by_time(news_frame(HEADLINES), conditions="none")
    pool = conditions_pool()
    assert table["weather"].tolist() == table["traffic"].tolist() == [NOT_KNOWN] * 8
    assert set(table["weather_from"]) == set(table["traffic_from"]) == {NOT_CONFIGURED_FROM}
    assert not set(table["weather"]) & set(pool["weather"])
    assert not set(table["traffic"]) & set(pool["traffic"])


def test_an_empty_news_day_gives_no_headline_in_any_block():
    table = by_time(news_frame([]), conditions="none")
    assert table["news"].tolist() == [NO_NEWS_YET] * 8


# -- a conditions file: observations in force from their time ------------------------------------


def write_observations(path, rows: list[tuple[str, str, str]]) -> str:
    frame = pd.DataFrame(rows, columns=["time", "weather", "traffic"])
    frame.to_csv(path, index=False)
    return str(path)


def test_a_conditions_file_gives_each_block_the_newest_observation_before_it_ends(tmp_path):
    write_observations(
        tmp_path / "conditions_2026-03-02.csv",
        [
            ("2026-03-02T05:00:00", "Light rain.", "Roadworks on 5th Avenue."),
            ("2026-03-02T10:00:00", "Heavy rain.", ""),  # no traffic report at 10:00
            ("2026-03-01T23:00:00", "Yesterday's snow.", "Yesterday's jam."),  # another day
            ("2026-03-02T20:00:00+00:00", "Clearing.", "Light traffic."),  # 15:00 in New York
        ],
    )
    template = str(tmp_path / "conditions_{date}.csv")
    table = by_time(news_frame(HEADLINES), conditions=template, timezone="America/New_York")
    uri = template.replace("{date}", "2026-03-02")
    assert table["weather"].tolist() == [
        NOT_KNOWN,  # 00-03: nothing observed yet
        "Light rain.",  # 03-06
        "Light rain.",
        "Heavy rain.",  # 09-12
        "Heavy rain.",  # 12-15: the 15:00 observation is not before the block ends
        "Clearing.",
        "Clearing.",
        "Clearing.",
    ]
    assert (
        table["traffic"].tolist()
        == [NOT_KNOWN] + ["Roadworks on 5th Avenue."] * 4 + ["Light traffic."] * 3
    )
    assert table["weather_from"].tolist()[:2] == [
        f"not known: {uri} has no weather before 03:00",
        f"{uri}, observed 05:00 America/New_York",
    ]
    assert table["traffic_from"].tolist()[5] == f"{uri}, observed 15:00 America/New_York"


def test_a_conditions_file_without_its_columns_raises_naming_the_file(tmp_path):
    (tmp_path / "c_2026-03-02.csv").write_text("time,rain\n2026-03-02T05:00:00,yes\n")
    with pytest.raises(RidesSourceError, match="lacks the conditions column"):
        by_time(news_frame(HEADLINES), conditions=str(tmp_path / "c_{date}.csv"))


def test_a_missing_conditions_file_raises_naming_it(tmp_path):
    with pytest.raises(RidesSourceError, match=r"c_2026-03-02\.csv"):
        by_time(news_frame(HEADLINES), conditions=str(tmp_path / "c_{date}.csv"))


def test_a_conditions_file_with_nothing_for_the_day_leaves_every_block_unknown(tmp_path):
    write_observations(tmp_path / "c_2026-03-02.csv", [])
    template = str(tmp_path / "c_{date}.csv")
    table = by_time(news_frame(HEADLINES), conditions=template)
    assert table["weather"].tolist() == table["traffic"].tolist() == [NOT_KNOWN] * 8
    assert table["traffic_from"].tolist()[-1] == (
        f"not known: {template.replace('{date}', '2026-03-02')} has no traffic before 24:00"
    )
