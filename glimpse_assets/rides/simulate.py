"""Simulated taxi rides in the original ETML job's mix, seeded by the day.

92.5% typical rides (distance U(0, 10) km, speed N(30, 5) km/h), 2.5% long rides (U(0, 30) km,
N(30, 5)), 2.5% fast rides (U(0, 10) km, N(50, 10)) and 2.5% slow rides (U(0, 10) km, N(15, 4));
speeds are redrawn until positive; ride time = distance / speed.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from glimpse_assets.days import day_bounds, day_seed

RIDE_KINDS = ("typical", "long", "fast", "slow")
KIND_SHARES = (0.925, 0.025, 0.025, 0.025)
_MAX_KM = {"typical": 10.0, "long": 30.0, "fast": 10.0, "slow": 10.0}
_SPEED = {"typical": (30.0, 5.0), "long": (30.0, 5.0), "fast": (50.0, 10.0), "slow": (15.0, 4.0)}


def _positive_normal(rng: np.random.Generator, mean: float, sd: float, size: int) -> np.ndarray:
    values = rng.normal(mean, sd, size)
    while (bad := values <= 0).any():
        values[bad] = rng.normal(mean, sd, int(bad.sum()))
    return values


def ride_ids(prefix: str, count: int) -> np.ndarray:
    """`prefix` + a zero-padded running number, vectorised (a million ids in milliseconds)."""
    if count == 0:
        return np.array([], dtype=str)  # np.strings.zfill cannot take an empty array
    return np.strings.add(prefix, np.strings.zfill(np.arange(count).astype(str), 7))


def simulate_rides(day: date, count: int) -> pd.DataFrame:
    """`count` rides for `day`: the same day always gives the same rides, other days differ."""
    if count < 0:
        raise ValueError(f"rides_per_day must be zero or more, got {count}")
    rng = np.random.default_rng(day_seed(day, "rides"))
    kinds = rng.choice(len(RIDE_KINDS), size=count, p=KIND_SHARES)
    distance = np.empty(count)
    speed = np.empty(count)
    for index, kind in enumerate(RIDE_KINDS):
        chosen = kinds == index
        size = int(chosen.sum())
        distance[chosen] = rng.uniform(0.0, _MAX_KM[kind], size)
        speed[chosen] = _positive_normal(rng, *_SPEED[kind], size)
    start, _ = day_bounds(day)
    pickup_seconds = np.sort(rng.integers(0, 86_400, count))
    return pd.DataFrame(
        {
            "ride_id": ride_ids(f"sim-{day:%Y%m%d}-", count),
            "pickup_at": pd.Timestamp(start) + pd.to_timedelta(pickup_seconds, unit="s"),
            "ride_dist": distance,
            "ride_time": distance / speed * 60.0,
            "ride_speed": speed,
            "ride_kind": pd.Categorical.from_codes(kinds, categories=list(RIDE_KINDS)),
        }
    )
