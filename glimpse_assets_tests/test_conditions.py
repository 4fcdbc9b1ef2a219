"""attach_conditions / block_conditions: news, weather and traffic per 3-hour block of a day."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from glimpse_assets.rides.conditions import (
    BLOCKS_PER_DAY,
    CONTEXT_COLUMNS,
    NO_NEWS,
    attach_conditions,
    block_conditions,
    conditions_pool,
)
from glimpse_assets.rides.simulate import simulate_rides

DAY = date(2026, 3, 2)
HEADLINES = [f"Headline number {i}" for i in range(10)]


@pytest.fixture(scope="module")
def rides() -> pd.DataFrame:
    return simulate_rides(DAY, 5_000)


@pytest.fixture(scope="module")
def with_conditions(rides) -> pd.DataFrame:
    return attach_conditions(rides, DAY, HEADLINES)


def test_adds_news_weather_traffic_and_keeps_the_rides(rides, with_conditions):
    assert list(with_conditions.columns) == [*rides.columns, *CONTEXT_COLUMNS]
    pd.testing.assert_frame_equal(with_conditions[rides.columns], rides)
    assert "news" not in rides.columns  # the input frame is not modified


def test_context_columns_are_categorical(with_conditions):
    for column in CONTEXT_COLUMNS:
        assert isinstance(with_conditions[column].dtype, pd.CategoricalDtype), column
        assert with_conditions[column].notna().all(), column


def test_at_most_8_distinct_contexts_per_day(with_conditions):
    triples = with_conditions[CONTEXT_COLUMNS].astype(str).drop_duplicates()
    assert 1 <= len(triples) <= BLOCKS_PER_DAY == 8


def test_rides_in_the_same_3_hour_block_share_the_context(with_conditions):
    blocks = with_conditions["pickup_at"].dt.hour // 3
    assert blocks.nunique() == 8  # 5,000 rides reach every block
    per_block = with_conditions[CONTEXT_COLUMNS].astype(str).groupby(blocks.to_numpy()).nunique()
    assert (per_block == 1).all().all()


def test_each_ride_carries_its_block_row(with_conditions):
    table = block_conditions(DAY, HEADLINES)
    blocks = (with_conditions["pickup_at"].dt.hour // 3).to_numpy()
    for column in CONTEXT_COLUMNS:
        expected = table[column].to_numpy()[blocks]
        assert (with_conditions[column].astype(str).to_numpy() == expected).all(), column


def test_block_conditions_has_one_row_per_block_from_the_pool():
    table = block_conditions(DAY, HEADLINES)
    pool = conditions_pool()
    assert list(table.columns) == CONTEXT_COLUMNS
    assert len(table) == 8
    assert set(table["weather"]) <= set(pool["weather"])
    assert set(table["traffic"]) <= set(pool["traffic"])


def test_headlines_come_from_the_list_in_order_by_block():
    assert block_conditions(DAY, HEADLINES)["news"].tolist() == HEADLINES[:8]


def test_fewer_headlines_than_blocks_repeat_in_order():
    news = block_conditions(DAY, ["first", "second", "third"])["news"].tolist()
    assert news == ["first", "second", "third", "first", "second", "third", "first", "second"]


def test_blank_headlines_are_skipped():
    news = block_conditions(DAY, ["", "only one", ""])["news"].tolist()
    assert news == ["only one"] * 8


@pytest.mark.parametrize("headlines", [[], [""], ["", ""]])
def test_no_headlines_give_the_no_news_text(rides, headlines):
    assert block_conditions(DAY, headlines)["news"].tolist() == [NO_NEWS] * 8
    attached = attach_conditions(rides, DAY, headlines)
    assert set(attached["news"].astype(str)) == {NO_NEWS}


def test_same_day_gives_the_same_conditions(rides):
    pd.testing.assert_frame_equal(
        block_conditions(DAY, HEADLINES), block_conditions(DAY, HEADLINES)
    )
    pd.testing.assert_frame_equal(
        attach_conditions(rides, DAY, HEADLINES), attach_conditions(rides, DAY, HEADLINES)
    )


def test_weather_and_traffic_do_not_depend_on_the_headlines():
    with_news = block_conditions(DAY, HEADLINES)
    without = block_conditions(DAY, [])
    pd.testing.assert_frame_equal(
        with_news[["weather", "traffic"]], without[["weather", "traffic"]]
    )


def test_conditions_differ_between_days():
    days = [date(2026, 3, 1) + timedelta(days=i) for i in range(10)]
    tables = {
        tuple(map(tuple, block_conditions(d, HEADLINES)[["weather", "traffic"]].to_numpy()))
        for d in days
    }
    assert len(tables) > 1
    first, second = (block_conditions(d, HEADLINES) for d in days[:2])
    assert not first[["weather", "traffic"]].equals(second[["weather", "traffic"]])


def test_empty_rides_get_empty_context_columns(rides):
    empty = rides.iloc[:0]
    attached = attach_conditions(empty, DAY, HEADLINES)
    assert attached.empty
    assert list(attached.columns) == [*rides.columns, *CONTEXT_COLUMNS]
