"""Strava activities (SummaryActivity JSON) as a typed table, and an offline sample of them.

Strava sends SI units (metres, seconds, metres per second) and a `start_date_local` that is the
local wall-clock time marked with a misleading "Z"; the table holds the units people read.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from glimpse_assets.text import clean_text

ACTIVITY_COLUMNS = [
    "activity_id",
    "name",
    "sport_type",
    "start_date",
    "start_date_local",
    "timezone",
    "distance_km",
    "moving_time_min",
    "elapsed_time_min",
    "elevation_gain_m",
    "max_speed_kmh",
    "average_speed_kmh",
    "average_heartrate",
]

FLOAT_COLUMNS = ACTIVITY_COLUMNS[ACTIVITY_COLUMNS.index("distance_km") :]  # the metrics


def metric_value(row: Mapping[str, Any] | pd.Series, key: str) -> float | None:
    """A row's metric as a finite float, or None when it is absent, NaN or not a number."""
    value = row.get(key)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


_STRAVA_TIME = "%Y-%m-%dT%H:%M:%SZ"
_OFFSET = re.compile(r"GMT([+-])(\d{2}):(\d{2})")


# -- units ----------------------------------------------------------------------------------


def metres_to_km(metres: float) -> float:
    return metres / 1000.0


def seconds_to_minutes(seconds: float) -> float:
    return seconds / 60.0


def mps_to_kmh(metres_per_second: float) -> float:
    return metres_per_second * 3.6


def pace_min_per_km(distance_km: float, moving_time_min: float) -> str | None:
    """Pace as "m:ss" per km; None without a distance (a manual or indoor activity), or when
    there is no finite pace (a distance of a few atoms)."""
    if not distance_km or distance_km <= 0 or not moving_time_min or moving_time_min <= 0:
        return None
    pace = moving_time_min / distance_km
    return minutes_to_mss(pace) if math.isfinite(pace * 60) else None


def minutes_to_mss(minutes: float) -> str:
    """4.5833 minutes -> "4:35"; seconds rounded, so 4.999 -> "5:00", never "4:60"."""
    total = round(minutes * 60)
    return f"{total // 60}:{total % 60:02d}"


def minutes_to_hmm(minutes: float) -> str:
    """95.4 minutes -> "1:35" (hours:minutes, minutes rounded)."""
    total = round(minutes)
    return f"{total // 60}:{total % 60:02d}"


# -- sports -------------------------------------------------------------------------------

FOOT_SPORTS = {"Run", "TrailRun", "VirtualRun", "Walk", "Hike", "Snowshoe"}
WHEEL_SPORTS = {
    "Ride",
    "VirtualRide",
    "GravelRide",
    "MountainBikeRide",
    "EBikeRide",
    "EMountainBikeRide",
    "Handcycle",
    "Velomobile",
}
WATER_SPORTS = {"Swim"}


def sport_kind(sport_type: str) -> str:
    """How the sport is measured: "foot" (pace per km), "wheel" (km/h), "swim" (pace per
    100 m) or "other" (time only, e.g. weight training)."""
    if sport_type in FOOT_SPORTS:
        return "foot"
    if sport_type in WHEEL_SPORTS:
        return "wheel"
    if sport_type in WATER_SPORTS:
        return "swim"
    return "other"


def pace_min_per_100m(distance_km: float, moving_time_min: float) -> str | None:
    """Swimming pace as "m:ss" per 100 m; None without a distance."""
    pace = pace_min_per_km(distance_km, moving_time_min)
    return None if pace is None else minutes_to_mss(moving_time_min / (distance_km * 10))


# -- time zones -----------------------------------------------------------------------------


def activity_zone(timezone_label: str) -> tzinfo:
    """The zone of a Strava label like "(GMT+01:00) Europe/Paris": the named zone (so summer
    time is right), else the fixed offset in the label, else UTC."""
    name = (timezone_label or "").rsplit(")", 1)[-1].strip()
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    found = _OFFSET.search(timezone_label or "")
    if not found:
        return UTC
    sign = 1 if found.group(1) == "+" else -1
    return timezone(sign * timedelta(hours=int(found.group(2)), minutes=int(found.group(3))))


# -- the offline sample ---------------------------------------------------------------------


@cache
def _sample_text() -> str:
    return resources.files("glimpse_assets").joinpath("data/sample_activities.json").read_text()


def sample_activities() -> list[dict[str, Any]]:
    """The shipped sample, a fresh copy each call."""
    return json.loads(_sample_text())


def redate(activity: dict[str, Any], day: date, activity_id: int) -> dict[str, Any]:
    """A copy of `activity` started on `day` at the same local time of day, with `start_date`
    (UTC) recomputed from its time zone and the id replaced."""
    local = datetime.strptime(activity["start_date_local"], _STRAVA_TIME)
    new_local = datetime.combine(day, local.time())
    utc = new_local.replace(tzinfo=activity_zone(activity.get("timezone", ""))).astimezone(UTC)
    return {
        **activity,
        "id": activity_id,
        "start_date": utc.strftime(_STRAVA_TIME),
        "start_date_local": new_local.strftime(_STRAVA_TIME),
    }


def sample_activities_for_day(day: date) -> list[dict[str, Any]]:
    """One to four sample activities re-dated onto `day` (local dates), the same for the same day.

    Ids are `YYYYMMDD` followed by the activity's place in the sample, so they are unique within
    a day and across days.
    """
    sample = sample_activities()
    rng = random.Random(f"strava-sample-{day.isoformat()}")
    picked = sorted(rng.sample(range(len(sample)), rng.randint(1, 4)))
    drawn = [redate(sample[i], day, int(day.strftime("%Y%m%d")) * 1000 + i) for i in picked]
    return sorted(drawn, key=lambda item: (item["start_date"], item["id"]))


# -- the table ------------------------------------------------------------------------------


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def _row(raw: dict[str, Any]) -> dict[str, Any]:
    """One activity in our units. Its texts are cleaned as the news text is (`clean_text`): JSON
    can carry half a UTF-16 surrogate pair ("\\ud83c"), which no UTF-8 writer takes, and
    control characters and markup have no place in a label that reaches a prompt."""
    has_heartrate = raw.get("has_heartrate", raw.get("average_heartrate") is not None)
    return {
        "activity_id": int(raw["id"]),
        "name": clean_text(raw.get("name")),
        "sport_type": clean_text(raw.get("sport_type") or raw.get("type")) or "Workout",
        "start_date": pd.Timestamp(raw["start_date"]),
        # wall-clock time where it happened; Strava's "Z" on it is not UTC
        "start_date_local": pd.Timestamp(
            raw.get("start_date_local") or raw["start_date"]
        ).tz_localize(None),
        "timezone": clean_text(raw.get("timezone")),
        "distance_km": metres_to_km(_number(raw.get("distance"))),
        "moving_time_min": seconds_to_minutes(_number(raw.get("moving_time"))),
        "elapsed_time_min": seconds_to_minutes(_number(raw.get("elapsed_time"))),
        "elevation_gain_m": _number(raw.get("total_elevation_gain")),
        "max_speed_kmh": mps_to_kmh(_number(raw.get("max_speed"))),
        "average_speed_kmh": mps_to_kmh(_number(raw.get("average_speed"))),
        "average_heartrate": _number(raw.get("average_heartrate")) if has_heartrate else math.nan,
    }


def activities_frame(raw: list[dict[str, Any]]) -> pd.DataFrame:
    """Activities as a typed table sorted by start (UTC); a repeated id keeps its first copy."""
    frame = pd.DataFrame([_row(item) for item in raw], columns=ACTIVITY_COLUMNS)
    frame["activity_id"] = frame["activity_id"].astype("int64")
    frame["start_date"] = pd.to_datetime(frame["start_date"], utc=True)
    frame["start_date_local"] = pd.to_datetime(frame["start_date_local"])
    for column in ("name", "sport_type", "timezone"):
        frame[column] = frame[column].astype("string")
    for column in FLOAT_COLUMNS:
        frame[column] = frame[column].astype("float64")
    frame = frame.drop_duplicates(subset="activity_id", keep="first")
    frame = frame.sort_values(["start_date", "activity_id"], kind="stable")
    return frame.reset_index(drop=True)
