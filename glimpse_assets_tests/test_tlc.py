"""load_tlc_rides: NYC TLC yellow trip records (Parquet or CSV, local or s3://) as rides.

The trip-record files are written here with pandas, in the TLC's own column names and types.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from glimpse_assets.rides.conditions import attach_conditions, block_conditions
from glimpse_assets.rides.simulate import simulate_rides
from glimpse_assets.rides.tlc import KM_PER_MILE, RidesSourceError, load_tlc_rides, trips_to_rides

DAY = date(2026, 3, 2)
RIDE_COLUMNS = ["ride_id", "pickup_at", "ride_dist", "ride_time", "ride_speed"]
NO_DROPS = {
    "other_days": 0,
    "missing_or_unreadable_pickup": 0,
    "missing_or_nonpositive_distance": 0,
    "dropoff_before_pickup": 0,
    "missing_or_zero_duration": 0,
}
FORMATS = ["parquet", "csv"]


def trip_records(rows: list[tuple[str | None, str | None, float | None]]) -> pd.DataFrame:
    """TLC yellow trip records from (pickup, dropoff, miles) rows; the other columns filled in."""
    pickups, dropoffs, miles = zip(*rows, strict=True) if rows else ((), (), ())
    count = len(rows)
    return pd.DataFrame(
        {
            "VendorID": np.arange(count, dtype=np.int32) % 2 + 1,
            "tpep_pickup_datetime": pd.to_datetime(list(pickups)).astype("datetime64[us]"),
            "tpep_dropoff_datetime": pd.to_datetime(list(dropoffs)).astype("datetime64[us]"),
            "passenger_count": np.ones(count),
            "trip_distance": np.array(miles, dtype=float),
            "fare_amount": np.full(count, 12.5),
        }
    )


def write_trips(trips: pd.DataFrame, path, fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        trips.to_parquet(path, index=False)
    else:
        trips.to_csv(path, index=False)


def write_csv_text(path, lines: list[str]) -> None:
    header = (
        "VendorID,tpep_pickup_datetime,tpep_dropoff_datetime,passenger_count,"
        "trip_distance,fare_amount"
    )
    path.write_text("\n".join([header, *lines]) + "\n")


CLEAN_DAY = [
    ("2026-03-02 00:00:00", "2026-03-02 00:30:00", 5.0),  # 8.04672 km in 30 min: 16.09 km/h
    ("2026-03-02 08:15:00", "2026-03-02 08:27:00", 2.0),  # 3.218688 km in 12 min
    ("2026-03-02 23:59:59", "2026-03-03 00:19:59", 10.0),  # picked up on the day, ends after
]


# -- a clean daily file ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_daily_file_converts_miles_minutes_and_speed(tmp_path, fmt):
    write_trips(trip_records(CLEAN_DAY), tmp_path / f"yellow_2026-03-02.{fmt}", fmt)

    rides, dropped = load_tlc_rides(str(tmp_path / f"yellow_{{date}}.{fmt}"), DAY)

    assert list(rides.columns) == RIDE_COLUMNS
    assert dropped == NO_DROPS
    assert rides["ride_id"].tolist() == [
        "tlc-20260302-0000000",
        "tlc-20260302-0000001",
        "tlc-20260302-0000002",
    ]
    assert rides["pickup_at"].tolist() == [
        pd.Timestamp("2026-03-02 00:00:00", tz="UTC"),
        pd.Timestamp("2026-03-02 08:15:00", tz="UTC"),
        pd.Timestamp("2026-03-02 23:59:59", tz="UTC"),
    ]
    np.testing.assert_allclose(rides["ride_dist"], [5 * 1.609344, 2 * 1.609344, 10 * 1.609344])
    np.testing.assert_allclose(rides["ride_time"], [30.0, 12.0, 20.0])
    np.testing.assert_allclose(
        rides["ride_speed"], [5 * 1.609344 * 2, 2 * 1.609344 * 5, 10 * 1.609344 * 3]
    )
    assert KM_PER_MILE == 1.609344


def test_parquet_and_csv_give_the_same_rides(tmp_path):
    trips = trip_records(CLEAN_DAY)
    write_trips(trips, tmp_path / "yellow_2026-03-02.parquet", "parquet")
    write_trips(trips, tmp_path / "yellow_2026-03-02.csv", "csv")
    from_parquet = load_tlc_rides(str(tmp_path / "yellow_{date}.parquet"), DAY)
    from_csv = load_tlc_rides(str(tmp_path / "yellow_{date}.csv"), DAY)
    pd.testing.assert_frame_equal(from_parquet[0], from_csv[0], check_dtype=False)
    assert from_parquet[1] == from_csv[1]


# -- a monthly file: only the day's rides ----------------------------------------------------------


MONTH = [
    ("2026-03-01 12:00:00", "2026-03-01 12:10:00", 1.0),
    ("2026-03-01 23:59:59", "2026-03-02 00:10:00", 1.0),  # ends on the day, picked up before
    *CLEAN_DAY,
    ("2026-03-03 00:00:00", "2026-03-03 00:10:00", 1.0),  # midnight belongs to the next day
    ("2026-03-15 09:00:00", "2026-03-15 09:20:00", 3.0),
    ("2026-03-31 18:00:00", "2026-03-31 18:05:00", 0.5),
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_monthly_file_keeps_only_the_days_rides(tmp_path, fmt):
    write_trips(trip_records(MONTH), tmp_path / "tlc" / f"yellow_2026-03.{fmt}", fmt)

    rides, dropped = load_tlc_rides(str(tmp_path / "tlc" / f"yellow_{{month}}.{fmt}"), DAY)

    assert len(rides) == 3
    assert (rides["pickup_at"].dt.date == DAY).all()
    np.testing.assert_allclose(rides["ride_time"], [30.0, 12.0, 20.0])
    assert dropped == {**NO_DROPS, "other_days": 5}


@pytest.mark.parametrize("fmt", FORMATS)
def test_monthly_file_gives_each_day_its_own_rides(tmp_path, fmt):
    write_trips(trip_records(MONTH), tmp_path / f"yellow_2026-03.{fmt}", fmt)
    template = str(tmp_path / f"yellow_{{month}}.{fmt}")

    march_15, dropped = load_tlc_rides(template, date(2026, 3, 15))
    assert march_15["ride_id"].tolist() == ["tlc-20260315-0000000"]
    assert march_15["ride_dist"].iloc[0] == pytest.approx(3 * KM_PER_MILE)
    assert dropped["other_days"] == len(MONTH) - 1

    march_1, _ = load_tlc_rides(template, date(2026, 3, 1))
    assert len(march_1) == 2


def assert_typed_like_a_day_with_rides(rides: pd.DataFrame) -> None:
    """An empty day has the columns and types of a full one (and of a simulated day of zero
    rides), so that its conditions attach (pickup_at.dt) and its files read with the others."""
    full, _ = trips_to_rides(trip_records(CLEAN_DAY), DAY)
    zero_simulated = simulate_rides(DAY, 0)
    assert list(rides.columns) == RIDE_COLUMNS
    assert rides.dtypes.to_dict() == full.dtypes.to_dict()
    for column in RIDE_COLUMNS:
        assert rides[column].dtype == zero_simulated[column].dtype, column


@pytest.mark.parametrize("fmt", FORMATS)
def test_day_without_rides_in_a_monthly_file_gives_a_typed_empty_frame(tmp_path, fmt):
    write_trips(trip_records(MONTH), tmp_path / f"yellow_2026-03.{fmt}", fmt)
    rides, dropped = load_tlc_rides(str(tmp_path / f"yellow_{{month}}.{fmt}"), date(2026, 3, 20))
    assert rides.empty
    assert_typed_like_a_day_with_rides(rides)
    assert dropped == {**NO_DROPS, "other_days": len(MONTH)}
    assert attach_conditions(rides, block_conditions_of_an_empty_news_day()).empty


def block_conditions_of_an_empty_news_day() -> pd.DataFrame:
    news = pd.DataFrame(
        {"id": [], "title": [], "published": pd.to_datetime([], utc=True)}, dtype=object
    )
    return block_conditions(DAY, news, news_by_publication_time=True, conditions="none")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("miles", [None, 0.0, -2.0])
def test_a_day_whose_every_distance_is_invalid_gives_a_typed_empty_frame(tmp_path, fmt, miles):
    trips = [(pickup, dropoff, miles) for pickup, dropoff, _ in CLEAN_DAY]
    write_trips(trip_records(trips), tmp_path / f"trips_2026-03-02.{fmt}", fmt)
    rides, dropped = load_tlc_rides(str(tmp_path / f"trips_{{date}}.{fmt}"), DAY)
    assert rides.empty
    assert_typed_like_a_day_with_rides(rides)
    assert dropped == {**NO_DROPS, "missing_or_nonpositive_distance": len(CLEAN_DAY)}
    assert attach_conditions(rides, block_conditions_of_an_empty_news_day()).empty


# -- invalid rows: dropped and counted by reason ---------------------------------------------------


INVALID = [
    ("2026-03-02 01:00:00", "2026-03-02 01:10:00", 0.0),  # zero distance
    ("2026-03-02 02:00:00", "2026-03-02 02:10:00", -1.5),  # negative distance
    ("2026-03-02 03:00:00", "2026-03-02 03:10:00", None),  # missing distance
    ("2026-03-02 04:00:00", "2026-03-02 03:50:00", 2.0),  # dropoff before pickup
    ("2026-03-02 05:00:00", "2026-03-02 05:00:00", 2.0),  # zero duration
    ("2026-03-02 06:00:00", None, 2.0),  # missing dropoff
    ("2026-03-02 07:00:00", "2026-03-02 06:00:00", 0.0),  # bad distance wins: counted once
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_invalid_rows_are_dropped_and_counted_by_reason(tmp_path, fmt):
    write_trips(trip_records([*CLEAN_DAY, *INVALID]), tmp_path / f"trips_2026-03-02.{fmt}", fmt)

    rides, dropped = load_tlc_rides(str(tmp_path / f"trips_{{date}}.{fmt}"), DAY)

    assert len(rides) == 3
    np.testing.assert_allclose(rides["ride_time"], [30.0, 12.0, 20.0])
    assert dropped == {
        "other_days": 0,
        "missing_or_unreadable_pickup": 0,
        "missing_or_nonpositive_distance": 4,
        "dropoff_before_pickup": 1,
        "missing_or_zero_duration": 2,
    }
    assert len(rides) + sum(dropped.values()) == len(CLEAN_DAY) + len(INVALID)
    assert np.isfinite(rides[["ride_dist", "ride_time", "ride_speed"]].to_numpy()).all()
    assert (rides[["ride_dist", "ride_time", "ride_speed"]] > 0).all().all()


def test_csv_unparseable_values_are_dropped_and_counted(tmp_path):
    write_csv_text(
        tmp_path / "trips_2026-03-02.csv",
        [
            "1,2026-03-02 08:00:00,2026-03-02 08:30:00,1,5.0,10",  # valid
            "1,2026-03-02 09:00:00,not a time,1,5.0,10",  # unparseable dropoff
            "1,2026-03-02 10:00:00,,1,5.0,10",  # missing dropoff
            "1,2026-03-02 11:00:00,2026-03-02 11:30:00,1,abc,10",  # unparseable distance
            "1,2026-03-02 12:00:00,2026-03-02 12:30:00,1,,10",  # missing distance
        ],
    )
    rides, dropped = load_tlc_rides(str(tmp_path / "trips_{date}.csv"), DAY)
    assert rides["ride_time"].tolist() == [30.0]
    assert dropped == {
        **NO_DROPS,
        "missing_or_nonpositive_distance": 2,
        "missing_or_zero_duration": 2,
    }


@pytest.mark.parametrize("fmt", ["parquet", "csv", "csv-garbage"])
def test_missing_or_unparseable_pickup_is_counted_as_invalid_not_another_day(tmp_path, fmt):
    path = tmp_path / "trips_2026-03-02.csv"
    if fmt == "csv-garbage":
        write_csv_text(
            path,
            [
                "1,2026-03-02 08:00:00,2026-03-02 08:30:00,1,5.0,10",
                "1,garbage,2026-03-02 09:30:00,1,5.0,10",
            ],
        )
    else:
        trips = trip_records([CLEAN_DAY[0], (None, "2026-03-02 09:30:00", 5.0)])
        path = path.with_suffix(f".{fmt}")
        write_trips(trips, path, fmt)

    rides, dropped = load_tlc_rides(str(path).replace("2026-03-02", "{date}"), DAY)

    assert len(rides) == 1  # the row is dropped either way
    assert dropped["other_days"] == 0
    assert dropped["missing_or_unreadable_pickup"] == 1
    assert sum(dropped.values()) == 1


# -- unusable files --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_file_without_trip_distance_raises_naming_the_column(tmp_path, fmt):
    path = tmp_path / f"trips_2026-03-02.{fmt}"
    write_trips(trip_records(CLEAN_DAY).drop(columns=["trip_distance"]), path, fmt)
    with pytest.raises(RidesSourceError, match="trip_distance") as raised:
        load_tlc_rides(str(tmp_path / f"trips_{{date}}.{fmt}"), DAY)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize("fmt", FORMATS)
def test_file_without_both_timestamps_names_both_columns(tmp_path, fmt):
    trips = trip_records(CLEAN_DAY).drop(columns=["tpep_pickup_datetime", "tpep_dropoff_datetime"])
    write_trips(trips, tmp_path / f"trips_2026-03-02.{fmt}", fmt)
    with pytest.raises(RidesSourceError) as raised:
        load_tlc_rides(str(tmp_path / f"trips_{{date}}.{fmt}"), DAY)
    assert "tpep_pickup_datetime" in str(raised.value)
    assert "tpep_dropoff_datetime" in str(raised.value)
    assert "trip_distance" not in str(raised.value)


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_file_raises_naming_the_path(tmp_path, fmt):
    expected = tmp_path / f"yellow_2026-03-02.{fmt}"
    with pytest.raises(RidesSourceError, match="cannot read rides file") as raised:
        load_tlc_rides(str(tmp_path / f"yellow_{{date}}.{fmt}"), DAY)
    assert str(expected) in str(raised.value)


def test_a_file_that_is_not_parquet_raises_rides_source_error(tmp_path):
    (tmp_path / "trips_2026-03-02.parquet").write_text("this is not parquet")
    with pytest.raises(RidesSourceError, match=r"trips_2026-03-02\.parquet"):
        load_tlc_rides(str(tmp_path / "trips_{date}.parquet"), DAY)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("/data/yellow.parquet", "{date} or {month}"),
        ("/data/yellow_2026-03-02.csv", "{date} or {month}"),
        ("/data/yellow_{day}.parquet", "{date} or {month}"),
        ("/data/yellow_{date}.json", ".parquet or .csv"),
        ("/data/yellow_{month}.csv.gz", ".parquet or .csv"),
        ("/data/yellow_{date}", ".parquet or .csv"),
    ],
)
def test_bad_templates_raise(template, message):
    with pytest.raises(RidesSourceError) as raised:
        load_tlc_rides(template, DAY)
    assert message in str(raised.value)
    assert template in str(raised.value)
    assert isinstance(raised.value, ValueError)


# -- the same files on S3 (moto and SeaweedFS on 127.0.0.1) ---------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.slow
def test_s3_file_gives_the_same_rides_as_the_local_file(tmp_path, s3_client, s3_bucket, fmt):
    local = tmp_path / f"yellow_2026-03.{fmt}"
    write_trips(trip_records([*MONTH, *INVALID]), local, fmt)
    s3_client.put_object(
        Bucket=s3_bucket, Key=f"tlc/yellow/yellow_2026-03.{fmt}", Body=local.read_bytes()
    )

    from_local = load_tlc_rides(str(tmp_path / f"yellow_{{month}}.{fmt}"), DAY)
    from_s3 = load_tlc_rides(f"s3://{s3_bucket}/tlc/yellow/yellow_{{month}}.{fmt}", DAY)

    assert len(from_s3[0]) == 3
    pd.testing.assert_frame_equal(from_s3[0], from_local[0])
    assert from_s3[1] == from_local[1]


@pytest.mark.slow
def test_s3_file_at_the_bucket_root(tmp_path, s3_client, s3_bucket):
    local = tmp_path / "yellow_2026-03-02.parquet"
    write_trips(trip_records(CLEAN_DAY), local, "parquet")
    s3_client.put_object(Bucket=s3_bucket, Key=local.name, Body=local.read_bytes())
    rides, _ = load_tlc_rides(f"s3://{s3_bucket}/yellow_{{date}}.parquet", DAY)
    pd.testing.assert_frame_equal(
        rides, load_tlc_rides(str(tmp_path / "yellow_{date}.parquet"), DAY)[0]
    )


def test_missing_s3_object_raises_naming_the_uri(s3_client, s3_bucket):
    with pytest.raises(RidesSourceError, match="cannot read rides file") as raised:
        load_tlc_rides(f"s3://{s3_bucket}/tlc/yellow_{{date}}.parquet", DAY)
    assert f"s3://{s3_bucket}/tlc/yellow_2026-03-02.parquet" in str(raised.value)
