"""simulate_rides: the original job's ride mix, the same for the same day, different otherwise."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from glimpse_assets.rides.simulate import RIDE_KINDS, simulate_rides

DAY = date(2026, 3, 2)
COLUMNS = ["ride_id", "pickup_at", "ride_dist", "ride_time", "ride_speed", "ride_kind"]

EXPECTED_SHARE = {"typical": 0.925, "long": 0.025, "fast": 0.025, "slow": 0.025}
MAX_KM = {"typical": 10.0, "long": 30.0, "fast": 10.0, "slow": 10.0}
MEAN_SPEED = {"typical": 30.0, "long": 30.0, "fast": 50.0, "slow": 15.0}


@pytest.fixture(scope="module")
def many_rides() -> pd.DataFrame:
    return simulate_rides(DAY, 200_000)


def test_same_day_gives_identical_rides():
    pd.testing.assert_frame_equal(simulate_rides(DAY, 5_000), simulate_rides(DAY, 5_000))


def test_different_days_give_different_rides():
    first = simulate_rides(date(2026, 3, 1), 2_000)
    second = simulate_rides(date(2026, 3, 2), 2_000)
    assert not np.allclose(first["ride_dist"], second["ride_dist"])
    assert not np.allclose(first["ride_speed"], second["ride_speed"])
    assert set(first["ride_id"]).isdisjoint(second["ride_id"])


@pytest.mark.parametrize("count", [1, 7, 1_000, 12_345])
def test_count_is_exact(count):
    rides = simulate_rides(DAY, count)
    assert len(rides) == count
    assert list(rides.columns) == COLUMNS


def test_ride_ids_are_unique_and_carry_the_day():
    rides = simulate_rides(DAY, 10_000)
    assert rides["ride_id"].is_unique
    assert rides["ride_id"].str.startswith("sim-20260302-").all()
    assert rides["ride_id"].iloc[0] == "sim-20260302-0000000"
    assert rides["ride_id"].iloc[-1] == "sim-20260302-0009999"


@pytest.mark.parametrize("day", [date(2026, 3, 2), date(2024, 2, 29), date(2025, 12, 31)], ids=str)
def test_every_pickup_is_inside_the_utc_day(day):
    rides = simulate_rides(day, 20_000)
    start = pd.Timestamp(datetime(day.year, day.month, day.day, tzinfo=UTC))
    assert str(rides["pickup_at"].dt.tz) == "UTC"
    assert (rides["pickup_at"] >= start).all()
    assert (rides["pickup_at"] < start + timedelta(days=1)).all()
    assert rides["pickup_at"].is_monotonic_increasing
    # Spread over the whole day, not bunched: every hour has rides.
    assert rides["pickup_at"].dt.hour.nunique() == 24


def test_speeds_distances_and_times_are_positive_and_consistent(many_rides):
    assert (many_rides["ride_speed"] > 0).all()
    assert (many_rides["ride_dist"] >= 0).all()
    assert (many_rides["ride_time"] >= 0).all()
    assert np.isfinite(many_rides[["ride_dist", "ride_time", "ride_speed"]].to_numpy()).all()
    assert np.allclose(
        many_rides["ride_time"], many_rides["ride_dist"] / many_rides["ride_speed"] * 60.0
    )


def test_ride_kind_is_a_categorical_of_the_four_kinds(many_rides):
    assert isinstance(many_rides["ride_kind"].dtype, pd.CategoricalDtype)
    assert list(many_rides["ride_kind"].cat.categories) == list(RIDE_KINDS)
    assert set(many_rides["ride_kind"]) == set(RIDE_KINDS)


def test_kind_shares_match_the_original_mix(many_rides):
    shares = many_rides["ride_kind"].value_counts(normalize=True)
    for kind, expected in EXPECTED_SHARE.items():
        assert shares[kind] == pytest.approx(expected, abs=0.005), kind


@pytest.mark.parametrize("kind", RIDE_KINDS)
def test_distance_range_per_kind(many_rides, kind):
    distance = many_rides.loc[many_rides["ride_kind"] == kind, "ride_dist"]
    assert distance.min() >= 0.0
    assert distance.max() <= MAX_KM[kind]
    # Uniform on [0, max]: the draws reach near both ends of the range.
    assert distance.min() < 0.05 * MAX_KM[kind]
    assert distance.max() > 0.95 * MAX_KM[kind]


def test_only_long_rides_go_beyond_10_km(many_rides):
    beyond = many_rides[many_rides["ride_dist"] > 10.0]
    assert len(beyond) > 0
    assert (beyond["ride_kind"] == "long").all()


@pytest.mark.parametrize("kind", RIDE_KINDS)
def test_mean_speed_per_kind(many_rides, kind):
    speed = many_rides.loc[many_rides["ride_kind"] == kind, "ride_speed"]
    assert speed.mean() == pytest.approx(MEAN_SPEED[kind], abs=1.0)


def test_zero_rides_give_an_empty_frame_with_the_columns():
    rides = simulate_rides(DAY, 0)
    assert rides.empty
    assert list(rides.columns) == COLUMNS
    nonempty = simulate_rides(DAY, 3)
    for column in ["pickup_at", "ride_dist", "ride_time", "ride_speed", "ride_kind"]:
        assert rides[column].dtype == nonempty[column].dtype, column


@pytest.mark.parametrize("count", [-1, -100])
def test_negative_count_raises_value_error(count):
    with pytest.raises(ValueError, match="zero or more"):
        simulate_rides(DAY, count)
