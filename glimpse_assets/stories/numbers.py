"""Every number in a story must come from its activity: a story that invents a distance, a
time or a heart rate is caught here, before it is stored.

A number in the story matches a metric when it equals the metric rounded to the number's own
decimals (so "8", "8.0" and "8.05" all match 8.046 km, "8.1" does not), in any unit a story
may use: km or metres, minutes or hours, h:mm, km/h, pace m:ss, bpm. Numbers of the
activity's local date and time of day (year, month, day, hour, minute) and numbers in its name
are allowed too; numbers written as words are not checked.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from glimpse_assets.stories.activities import (
    metric_value,
    minutes_to_hmm,
    minutes_to_mss,
    pace_min_per_100m,
    pace_min_per_km,
    sport_kind,
)

# "1:05:12", "4:35", "1,204.5", "5.2", "42"; not the digits inside a word like "E3" or "10k"'s k
_NUMBER = re.compile(
    r"(?<![\w.,:])(\d+:\d{2}(?::\d{2})?|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\d])"
)


def _number_tokens(text: str) -> list[tuple[str, float, int]]:
    """(as written, value, decimals) for each number; "m:ss" and "h:mm:ss" become minutes."""
    tokens = []
    for match in _NUMBER.finditer(text):
        written = match.group(1)
        if ":" in written:
            parts = [int(p) for p in written.split(":")]
            value = parts[0] + parts[1] / 60 if len(parts) == 2 else parts[0] * 60 + parts[1]
            if len(parts) == 3:
                value += parts[2] / 60
            tokens.append((written, float(value), -1))
            continue
        plain = written.replace(",", "")
        decimals = len(plain.partition(".")[2])
        tokens.append((written, float(plain), decimals))
    return tokens


def numbers_in(text: str) -> list[float]:
    """The numbers in `text`: "5.2" -> 5.2, "1,204" -> 1204.0, "4:35" -> 4.5833 (minutes)."""
    return [value for _, value, _ in _number_tokens(text)]


def _metrics(row: Mapping[str, Any] | pd.Series) -> tuple[list[float], set[str]]:
    """The values a story may quote (in every unit) and the "m:ss"/"h:mm" texts it may use."""
    values: list[float] = []
    texts: set[str] = set()
    distance = metric_value(row, "distance_km")
    moving = metric_value(row, "moving_time_min")
    elapsed = metric_value(row, "elapsed_time_min")
    if distance:
        values += [distance, distance * 1000]
    for minutes in (moving, elapsed):
        if minutes:
            values += [minutes, minutes / 60, minutes // 60, minutes % 60, round(minutes) % 60]
            texts.add(minutes_to_hmm(minutes))
            texts.add(minutes_to_mss(minutes))  # "41:00" as minutes:seconds
    for key in ("elevation_gain_m", "max_speed_kmh", "average_speed_kmh", "average_heartrate"):
        value = metric_value(row, key)
        if value:
            values.append(value)
    elevation = metric_value(row, "elevation_gain_m")
    if elevation:
        values.append(elevation / 1000)
    if distance and moving:
        if sport_kind(str(row.get("sport_type") or "")) == "swim":
            values.append(100)  # the unit of a swimming pace: "per 100 m"
        for pace in (pace_min_per_km(distance, moving), pace_min_per_100m(distance, moving)):
            if pace:
                texts.add(pace)
                values.append(_number_tokens(pace)[0][1])
    start = row.get("start_date_local")
    if start is not None and not pd.isna(start):
        stamp = pd.Timestamp(start)
        values += [stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute]
        values.append(stamp.hour % 12 or 12)  # "7 pm"
        texts.add(f"{stamp.hour}:{stamp.minute:02d}")
        texts.add(f"{stamp.hour % 12 or 12}:{stamp.minute:02d}")
    values += [value for _, value, _ in _number_tokens(str(row.get("name") or ""))]
    return values, texts


def _matches(value: float, decimals: int, metrics: list[float]) -> bool:
    return any(math.isclose(round(metric, decimals), value, abs_tol=1e-9) for metric in metrics)


def unmatched_numbers(story: str, activity_row: Mapping[str, Any] | pd.Series) -> list[str]:
    """The numbers in `story` (as written) that match none of the activity's metrics."""
    metrics, texts = _metrics(activity_row)
    unmatched = []
    for written, value, decimals in _number_tokens(story):
        if decimals < 0:
            if written not in texts:
                unmatched.append(written)
        elif not _matches(value, decimals, metrics):
            unmatched.append(written)
    return unmatched
