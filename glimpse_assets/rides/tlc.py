"""NYC TLC yellow trip records (Parquet or CSV, local or s3://) as Glimpse rides.

The template names one file per day (`{date}`, YYYY-MM-DD) or per month (`{month}`, YYYY-MM).
Only rides picked up on the partition's day are kept. TLC times are local wall-clock times
without a zone; they are read as they are and labelled UTC, so "the day" is the file's own day.
A day without a valid trip (every row invalid, or a monthly file without the day) gives the same
typed, empty frame as a simulated day of zero rides: "no rides", not an error.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pandas as pd

from glimpse_assets.days import day_bounds
from glimpse_assets.rides.simulate import ride_ids
from glimpse_assets.rides.templates import RidesSourceError, validate_template
from glimpse_assets.storage.object_store import StorageError, is_s3_uri, open_object_store

TLC_COLUMNS = ["tpep_pickup_datetime", "tpep_dropoff_datetime", "trip_distance"]
KM_PER_MILE = 1.609344
PICKUP_DTYPE = "datetime64[us, UTC]"  # as simulated rides: a day without trips has the same schema


def resolve_template(template: str, day: date) -> str:
    return validate_template(template).format(date=day.isoformat(), month=f"{day:%Y-%m}")


def read_uri(uri: str) -> bytes:
    """The bytes of a local file or an s3:// object (endpoint from AWS_ENDPOINT_URL)."""
    try:
        if is_s3_uri(uri):
            parent, _, name = uri.rpartition("/")
            return open_object_store(parent).get(name)
        return Path(uri).expanduser().read_bytes()
    except (StorageError, OSError) as error:
        raise RidesSourceError(f"cannot read rides file {uri}: {error}") from error


def read_trip_records(uri: str) -> pd.DataFrame:
    data = io.BytesIO(read_uri(uri))
    try:
        if uri.endswith(".parquet"):
            import pyarrow.parquet as pq

            present = set(pq.read_schema(data).names)
            missing = [c for c in TLC_COLUMNS if c not in present]
            if missing:
                raise RidesSourceError(f"{uri} lacks the TLC column(s) {', '.join(missing)}")
            return pd.read_parquet(data, columns=TLC_COLUMNS)
        header = pd.read_csv(data, nrows=0).columns
        missing = [c for c in TLC_COLUMNS if c not in header]
        if missing:
            raise RidesSourceError(f"{uri} lacks the TLC column(s) {', '.join(missing)}")
        data.seek(0)
        return pd.read_csv(data, usecols=TLC_COLUMNS)
    except (ValueError, OSError) as error:
        if isinstance(error, RidesSourceError):
            raise
        raise RidesSourceError(f"cannot parse rides file {uri}: {error}") from error


def trips_to_rides(trips: pd.DataFrame, day: date) -> tuple[pd.DataFrame, dict[str, int]]:
    """The day's trips in Glimpse's ride columns, with counts of the rows dropped and why."""
    pickup = pd.to_datetime(trips["tpep_pickup_datetime"], errors="coerce")
    dropoff = pd.to_datetime(trips["tpep_dropoff_datetime"], errors="coerce")
    if pickup.dt.tz is None:
        pickup, dropoff = pickup.dt.tz_localize("UTC"), dropoff.dt.tz_localize("UTC")
    start, end = day_bounds(day)
    bad_pickup = pickup.isna()
    on_day = bad_pickup | ((pickup >= start) & (pickup < end))  # a row with no pickup is invalid
    miles = pd.to_numeric(trips["trip_distance"], errors="coerce")
    minutes = (dropoff - pickup).dt.total_seconds() / 60.0

    bad_distance = on_day & ~bad_pickup & ~(miles > 0)
    bad_order = on_day & ~bad_pickup & ~bad_distance & (dropoff < pickup)
    bad_duration = on_day & ~bad_pickup & ~bad_distance & ~bad_order & ~(minutes > 0)
    keep = on_day & ~bad_pickup & ~bad_distance & ~bad_order & ~bad_duration
    dropped = {
        "other_days": int((~on_day).sum()),
        "missing_or_unreadable_pickup": int(bad_pickup.sum()),
        "missing_or_nonpositive_distance": int(bad_distance.sum()),
        "dropoff_before_pickup": int(bad_order.sum()),
        "missing_or_zero_duration": int(bad_duration.sum()),
    }
    distance_km = miles[keep].to_numpy(dtype=float) * KM_PER_MILE
    ride_time = minutes[keep].to_numpy(dtype=float)
    rides = pd.DataFrame(
        {
            "ride_id": ride_ids(f"tlc-{day:%Y%m%d}-", int(keep.sum())),
            # The Series, not .to_numpy(): a tz-aware column becomes an object array that stays
            # untyped when it is empty (a day with no valid trip), and pickup_at.dt then fails.
            "pickup_at": pickup[keep].astype(PICKUP_DTYPE).reset_index(drop=True),
            "ride_dist": distance_km,
            "ride_time": ride_time,
            "ride_speed": distance_km / (ride_time / 60.0),
        }
    )
    # A distance or time that is infinite is not dropped here: raw_rides drops and counts every
    # source's rides with a non-finite feature (`clustering.finite_rides`).
    return rides, dropped


def load_tlc_rides(template: str, day: date) -> tuple[pd.DataFrame, dict[str, int]]:
    return trips_to_rides(read_trip_records(resolve_template(template, day)), day)
