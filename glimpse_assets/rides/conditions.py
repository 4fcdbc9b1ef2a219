"""The context texts every ride carries (news, weather, traffic), per 3-hour block of its day,
and where each one came from (`news_from`, `weather_from`, `traffic_from`).

A block's rides share one context, so a day has at most 8 distinct contexts and the summaries
need at most 8 provider calls, however many rides there are.

News is the day's `raw_news` headlines, in one of two ways:

- by publication time (real rides, e.g. TLC): a block carries the newest headline published
  before the block ends, compared on the rides' own clock (a TLC file's New York wall-clock
  time, so a headline's UTC time is converted to it); a block before any headline says so;
- in turn (simulated rides): the day's headlines, oldest first, one per block, repeating.

Weather and traffic come from the conditions source the rides source names:

- `invented`: the shipped pool of made-up conditions, drawn by a seed from the date (the
  default for simulated rides, which are invented too), labelled as invented: one weather for
  the day (the city has one sky), a traffic for each block;
- `none`: "Not known." (the default for real rides: nothing is invented for a real day);
- a file template (`.csv` or `.parquet` with `{date}` or `{month}`, local or s3://) with
  columns `time`, `weather`, `traffic`: observations, each in force from its time; a block
  carries the newest non-empty observation before the block ends. A time with an offset is
  converted to the rides' clock, a time without one is taken on the rides' clock.
"""

from __future__ import annotations

import io
import json
import random
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from glimpse_assets.days import day_seed
from glimpse_assets.rides.templates import RidesSourceError
from glimpse_assets.text import clean_text

BLOCK_HOURS = 3
BLOCKS_PER_DAY = 24 // BLOCK_HOURS
NO_NEWS = "No news was recorded for this day."
NO_NEWS_YET = "No headline had been published yet on this day."
NOT_KNOWN = "Not known."
CONTEXT_COLUMNS = ["news", "weather", "traffic"]
SOURCE_COLUMNS = [f"{column}_from" for column in CONTEXT_COLUMNS]
BLOCK_COLUMNS = [*CONTEXT_COLUMNS, *SOURCE_COLUMNS]
OBSERVATION_COLUMNS = ["time", "weather", "traffic"]

INVENTED = "invented"
NONE = "none"
INVENTED_FROM = "invented: Glimpse's shipped pool of made-up conditions, not a real record"
NOT_CONFIGURED_FROM = "not known: no conditions source is configured"
NEWS_IN_TURN_FROM = "raw_news headline of the day, given to the blocks in turn, not by time"
NO_NEWS_FROM = "no raw_news headline for this day"


@cache
def conditions_pool() -> dict[str, tuple[str, ...]]:
    text = (
        resources.files("glimpse_assets.data").joinpath("ride_conditions.json").read_text("utf-8")
    )
    pool = json.loads(text)
    return {"weather": tuple(pool["weather"]), "traffic": tuple(pool["traffic"])}


def block_ends(day: date) -> list[datetime]:
    """The end of each block, as a wall-clock time on the rides' clock (no zone)."""
    start = datetime(day.year, day.month, day.day)
    return [start + timedelta(hours=BLOCK_HOURS * (b + 1)) for b in range(BLOCKS_PER_DAY)]


def _clock(end: datetime) -> str:
    return f"{(end.hour or 24):02d}:{end.minute:02d}"  # the last block ends at 24:00


def _when(moment: pd.Timestamp, day: date, timezone: str) -> str:
    when = f"{moment:%H:%M}" if moment.date() == day else f"{moment:%Y-%m-%d %H:%M}"
    return f"{when} {timezone}"


def day_headlines(raw_news: pd.DataFrame) -> pd.DataFrame:
    """The day's non-blank headlines (`published`, `title`), oldest first."""
    ordered = raw_news.sort_values(["published", "id"], kind="stable")
    titles = [clean_text(title) for title in ordered["title"]]
    keep = np.array([bool(title) for title in titles], dtype=bool)
    return pd.DataFrame(
        {
            "published": ordered["published"][keep].reset_index(drop=True),
            "title": pd.Series([t for t in titles if t], dtype=object),
        }
    )


def on_clock(times: pd.Series, timezone: str) -> pd.Series:
    """`times` as wall-clock times (no zone) on the clock of `timezone`."""
    times = pd.to_datetime(times)
    if times.dt.tz is None:
        return times
    return times.dt.tz_convert(timezone).dt.tz_localize(None)


def news_in_turn(headlines: pd.DataFrame) -> tuple[list[str], list[str]]:
    titles = headlines["title"].tolist()
    if not titles:
        return [NO_NEWS] * BLOCKS_PER_DAY, [NO_NEWS_FROM] * BLOCKS_PER_DAY
    news = [titles[block % len(titles)] for block in range(BLOCKS_PER_DAY)]
    return news, [NEWS_IN_TURN_FROM] * BLOCKS_PER_DAY


def latest_before(
    times: pd.Series, values: list[str], ends: list[datetime]
) -> list[tuple[str, pd.Timestamp] | None]:
    """For each block end, the newest (value, time) with a time before it, or None."""
    order = np.argsort(times.to_numpy(), kind="stable")
    ordered_times = times.to_numpy()[order]
    picks = []
    for end in ends:
        index = int(np.searchsorted(ordered_times, np.datetime64(end), side="left")) - 1
        picks.append(None if index < 0 else (values[order[index]], times.iloc[order[index]]))
    return picks


def news_by_time(headlines: pd.DataFrame, day: date, timezone: str) -> tuple[list[str], list[str]]:
    ends = block_ends(day)
    published = on_clock(headlines["published"], timezone).reset_index(drop=True)
    news, sources = [], []
    picks = latest_before(published, headlines["title"].tolist(), ends)
    for end, pick in zip(ends, picks, strict=True):
        if pick is None:
            news.append(NO_NEWS_YET)
            sources.append(f"no raw_news headline published before {_clock(end)} {timezone}")
        else:
            title, moment = pick
            news.append(title)
            sources.append(f"raw_news headline published {_when(moment, day, timezone)}")
    return news, sources


def invented_conditions(day: date) -> dict[str, tuple[list[str], list[str]]]:
    """One weather for the whole day, drawn once from the day's seed, and a traffic per block:
    a day never has snow flurries beside a warm thunderstorm."""
    rng = random.Random(day_seed(day, "conditions"))
    pool = conditions_pool()
    weather = [rng.choice(pool["weather"])] * BLOCKS_PER_DAY
    traffic = [rng.choice(pool["traffic"]) for _ in range(BLOCKS_PER_DAY)]
    invented = [INVENTED_FROM] * BLOCKS_PER_DAY
    return {"weather": (weather, invented), "traffic": (traffic, invented)}


def unknown_conditions() -> dict[str, tuple[list[str], list[str]]]:
    unknown = ([NOT_KNOWN] * BLOCKS_PER_DAY, [NOT_CONFIGURED_FROM] * BLOCKS_PER_DAY)
    return {"weather": unknown, "traffic": unknown}


def read_observations(template: str, day: date, timezone: str) -> tuple[pd.DataFrame, str]:
    """The day's observations (time on the rides' clock, weather, traffic) and the file's URI."""
    from glimpse_assets.rides.tlc import read_uri, resolve_template

    uri = resolve_template(template, day)
    data = io.BytesIO(read_uri(uri))
    try:
        frame = pd.read_parquet(data) if uri.endswith(".parquet") else pd.read_csv(data, dtype=str)
    except (ValueError, OSError) as error:
        raise RidesSourceError(f"cannot parse conditions file {uri}: {error}") from error
    missing = [column for column in OBSERVATION_COLUMNS if column not in frame.columns]
    if missing:
        raise RidesSourceError(f"{uri} lacks the conditions column(s) {', '.join(missing)}")
    try:
        times = pd.Series(
            [_observation_time(value, timezone) for value in frame["time"]], dtype="datetime64[us]"
        )
    except (ValueError, TypeError) as error:
        raise RidesSourceError(f"{uri} has a time that is not ISO 8601: {error}") from error
    start = pd.Timestamp(day)
    observations = pd.DataFrame(
        {
            "time": times,
            "weather": [_text(value) for value in frame["weather"]],
            "traffic": [_text(value) for value in frame["traffic"]],
        }
    )
    on_day = (observations["time"] >= start) & (observations["time"] < start + pd.Timedelta(days=1))
    return observations[on_day].reset_index(drop=True), uri


def _observation_time(value: object, timezone: str) -> pd.Timestamp:
    """An observation's time on the rides' clock: converted if it has an offset."""
    moment = pd.Timestamp(value)
    if pd.isna(moment):
        raise ValueError(f"{value!r} is not a time")
    return moment.tz_convert(timezone).tz_localize(None) if moment.tzinfo else moment


def _text(value: object) -> str:
    return "" if value is None or pd.isna(value) else clean_text(str(value))


def observed_conditions(
    template: str, day: date, timezone: str
) -> dict[str, tuple[list[str], list[str]]]:
    observations, uri = read_observations(template, day, timezone)
    ends = block_ends(day)
    conditions = {}
    for column in ("weather", "traffic"):
        known = observations[np.array([bool(t) for t in observations[column]], dtype=bool)]
        known = known.reset_index(drop=True)
        values = known[column].tolist()
        texts, sources = [], []
        for end, pick in zip(ends, latest_before(known["time"], values, ends), strict=True):
            if pick is None:
                texts.append(NOT_KNOWN)
                sources.append(f"not known: {uri} has no {column} before {_clock(end)}")
            else:
                text, moment = pick
                texts.append(text)
                sources.append(f"{uri}, observed {_when(moment, day, timezone)}")
        conditions[column] = (texts, sources)
    return conditions


def block_conditions(
    day: date,
    raw_news: pd.DataFrame,
    *,
    news_by_publication_time: bool,
    conditions: str = INVENTED,
    timezone: str = "UTC",
) -> pd.DataFrame:
    """One row per 3-hour block: the news, weather and traffic its rides carry, and where each
    came from (see the module docstring)."""
    headlines = day_headlines(raw_news)
    if news_by_publication_time:
        news = news_by_time(headlines, day, timezone)
    else:
        news = news_in_turn(headlines)
    if conditions == INVENTED:
        weather_traffic = invented_conditions(day)
    elif conditions == NONE:
        weather_traffic = unknown_conditions()
    else:
        weather_traffic = observed_conditions(conditions, day, timezone)
    columns = {"news": news, **weather_traffic}
    return pd.DataFrame(
        {
            **{name: columns[name][0] for name in CONTEXT_COLUMNS},
            **{f"{name}_from": columns[name][1] for name in CONTEXT_COLUMNS},
        }
    )


def attach_conditions(rides: pd.DataFrame, blocks: pd.DataFrame) -> pd.DataFrame:
    """`rides` with the block table's columns (categoricals: a million rides share 8 texts)."""
    block_of_ride = (rides["pickup_at"].dt.hour.to_numpy() // BLOCK_HOURS).astype(np.int64)
    out = rides.copy()
    for column in BLOCK_COLUMNS:
        categories, block_codes = np.unique(blocks[column].to_numpy(), return_inverse=True)
        out[column] = pd.Categorical.from_codes(block_codes[block_of_ride], categories=categories)
    return out
