"""Real (TLC) days through the rides chain: a day without a valid trip is "no rides", rides with
a NaN or infinite feature are dropped and counted in every source, and a real day's conditions
are only real ones, each saying where it came from (no invented weather or traffic)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from glimpse_assets.definitions import build_definitions
from glimpse_assets.news.assets import raw_news
from glimpse_assets.rides.assets import raw_rides, rides_assets
from glimpse_assets.rides.checks import rides_checks
from glimpse_assets.rides.conditions import NOT_CONFIGURED_FROM, NOT_KNOWN, conditions_pool
from glimpse_assets.rides.sources import SimulatedRidesSource, TlcRidesSource
from glimpse_assets.settings import ConfigurationError

DAY = "2026-03-02"
RIDES_OUTPUTS = ["raw_rides", "clustered_rides", "anomaly_summaries", "rides_report"]


def trip_file(path: Path, day: str = DAY, count: int = 400, **overrides) -> None:
    """`count` TLC yellow trips picked up through `day` (local time), as a CSV the TLC ships."""
    rng = np.random.default_rng(7)
    start = pd.Timestamp(day)
    pickup = start + pd.to_timedelta(np.sort(rng.integers(0, 86_400, count)), unit="s")
    miles = rng.uniform(0.3, 6.0, count)
    miles[:8] = rng.uniform(15, 20, 8)  # a few long ones, likely anomalies
    minutes = miles / rng.normal(12.0, 2.0, count).clip(4) * 60
    frame = pd.DataFrame(
        {
            "VendorID": 1,
            "tpep_pickup_datetime": pickup,
            "tpep_dropoff_datetime": pickup + pd.to_timedelta(minutes, unit="min"),
            "passenger_count": 1,
            "trip_distance": miles,
            **overrides,
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def materialize(resources: dict, rides_source, selection=None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [raw_news, *rides_assets, *rides_checks],
        selection=selection,
        partition_key=DAY,
        resources={**resources, "rides_source": rides_source},
        raise_on_error=False,
    )


def metadata_of(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    (materialization,) = result.asset_materializations_for_node(asset)
    return {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}


def read(root: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(root / name / f"{DAY}.parquet")


@pytest.fixture
def storage_root(local_io_manager) -> Path:
    return Path(local_io_manager.object_store.storage_uri)


# -- a day without a valid trip -----------------------------------------------------------------


@pytest.mark.parametrize("case", ["every distance invalid", "monthly file without the day"])
def test_a_tlc_day_without_a_valid_trip_is_a_day_of_no_rides(
    offline_resources, storage_root, tmp_path, case
):
    if case == "every distance invalid":
        path = tmp_path / "tlc" / f"yellow_{DAY}.csv"
        trip_file(path, trip_distance=[np.nan, 0.0, -1.0, np.nan] * 100)
        template = str(tmp_path / "tlc" / "yellow_{date}.csv")
    else:
        trip_file(tmp_path / "tlc" / "yellow_2026-03.csv", day="2026-03-20")
        template = str(tmp_path / "tlc" / "yellow_{month}.csv")

    result = materialize(offline_resources, TlcRidesSource(template=template))

    assert result.success
    for name in RIDES_OUTPUTS:
        assert read(storage_root, name).empty, name
    metadata = metadata_of(result, "raw_rides")
    assert (metadata["rides"], metadata["note"]) == (0, "no rides for this day")
    page = (storage_root / "rides_report_page" / f"{DAY}.html").read_text("utf-8")
    assert f"No rides for {DAY}" in page
    assert "anomaly_rate" not in metadata_of(result, "clustered_rides")


def test_a_tlc_day_without_a_valid_trip_has_the_schema_of_a_simulated_empty_day(
    offline_resources, storage_root, tmp_path
):
    trip_file(tmp_path / f"yellow_{DAY}.csv", trip_distance=0.0)
    tlc = TlcRidesSource(template=str(tmp_path / "yellow_{date}.csv"))
    assert materialize(offline_resources, tlc, selection=[raw_news, raw_rides]).success
    tlc_types = read(storage_root, "raw_rides").dtypes.to_dict()
    simulated = SimulatedRidesSource(rides_per_day=0)
    assert materialize(offline_resources, simulated, selection=[raw_news, raw_rides]).success
    simulated_types = read(storage_root, "raw_rides").dtypes.to_dict()
    simulated_types.pop("ride_kind")  # simulated rides say which kind of the mix they are
    assert tlc_types == simulated_types


# -- NaN or infinite features: dropped and counted, whatever the source -------------------------


class RidesWithAGap(SimulatedRidesSource):
    """Simulated rides, one of them with no recorded time (as a source might send)."""

    def rides_for_day(self, day: date, rides_per_day: int | None):
        rides, dropped = super().rides_for_day(day, rides_per_day)
        rides.loc[3, "ride_time"] = np.nan
        return rides, dropped


def test_a_ride_with_a_nan_feature_is_dropped_and_counted_before_clustering(
    offline_resources, storage_root
):
    result = materialize(offline_resources, RidesWithAGap(rides_per_day=500))

    assert result.success
    assert metadata_of(result, "raw_rides")["dropped_nonfinite_features"] == 1
    assert metadata_of(result, "raw_rides")["rides"] == 499
    clustered = read(storage_root, "clustered_rides")
    assert len(clustered) == 499
    assert 0 < clustered["is_anomaly"].sum() < 50  # not every ride (was 500 of 500)
    assert metadata_of(result, "clustered_rides")["dropped_nonfinite_features"] == 0


def test_a_tlc_trip_with_an_infinite_distance_is_dropped_and_counted(
    offline_resources, storage_root, tmp_path
):
    trip_file(tmp_path / f"yellow_{DAY}.csv", count=100)
    path = tmp_path / f"yellow_{DAY}.csv"
    lines = path.read_text().splitlines()
    fields = lines[5].split(",")
    fields[4] = "inf"
    lines[5] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")

    tlc = TlcRidesSource(template=str(tmp_path / "yellow_{date}.csv"))
    result = materialize(offline_resources, tlc, selection=[raw_news, raw_rides])

    assert result.success
    metadata = metadata_of(result, "raw_rides")
    assert metadata["dropped_nonfinite_features"] == 1
    assert metadata["rides"] == 99
    assert np.isfinite(read(storage_root, "raw_rides")[["ride_dist", "ride_time"]]).all().all()


def test_a_simulated_day_reports_no_nonfinite_ride(offline_resources):
    result = materialize(
        offline_resources, SimulatedRidesSource(rides_per_day=200), selection=[raw_news, raw_rides]
    )
    assert metadata_of(result, "raw_rides")["dropped_nonfinite_features"] == 0


# -- real conditions only ---------------------------------------------------------------------


def test_a_tlc_day_gets_no_invented_weather_or_traffic_and_the_page_says_so(
    offline_resources, storage_root, tmp_path
):
    trip_file(tmp_path / f"yellow_{DAY}.csv")
    tlc = TlcRidesSource(template=str(tmp_path / "yellow_{date}.csv"), city="New York City")

    result = materialize(offline_resources, tlc)

    assert result.success
    rides = read(storage_root, "raw_rides")
    pool = conditions_pool()
    assert set(rides["weather"].astype(str)) == set(rides["traffic"].astype(str)) == {NOT_KNOWN}
    assert set(rides["weather_from"].astype(str)) == {NOT_CONFIGURED_FROM}
    assert set(rides["traffic_from"].astype(str)) == {NOT_CONFIGURED_FROM}
    # The news is the day's headlines, each block the newest published before it ends.
    news = read(storage_root, "raw_news")
    assert set(rides["news"].astype(str)) - set(news["title"]) <= {
        "No headline had been published yet on this day."
    }
    assert all(
        source.startswith(("raw_news headline published", "no raw_news headline published"))
        for source in rides["news_from"].astype(str).unique()
    )
    summaries = read(storage_root, "anomaly_summaries")
    assert len(summaries) > 0
    for text in [*pool["weather"], *pool["traffic"]]:
        assert not summaries["summary"].str.contains(text, regex=False).any()
    page = (storage_root / "rides_report_page" / f"{DAY}.html").read_text("utf-8")
    assert "Rides report for 2026-03-02, New York City" in page
    assert f"[{NOT_CONFIGURED_FROM}]" in page
    assert "written by: extractive, not an LLM" in page
    assert not any(text in page for text in [*pool["weather"], *pool["traffic"]])
    metadata = metadata_of(result, "raw_rides")
    assert (metadata["conditions_source"], metadata["news_rule"]) == (
        "none",
        "headline of each block's time",
    )


def test_a_configured_conditions_file_gives_a_tlc_day_its_weather_and_traffic(tmp_path):
    trip_file(tmp_path / "tlc" / f"yellow_{DAY}.csv")
    conditions = tmp_path / "conditions" / f"nyc_{DAY}.csv"
    conditions.parent.mkdir()
    conditions.write_text(
        "time,weather,traffic\n"
        f"{DAY}T00:00:00,Snow showers.,Slow on the FDR Drive.\n"
        f"{DAY}T12:00:00,Clearing skies.,\n"
    )
    root = tmp_path / "storage"
    defs = build_definitions(
        {
            "GLIMPSE_STORAGE_URI": str(root),
            "GLIMPSE_RIDES_SOURCE": str(tmp_path / "tlc" / "yellow_{date}.csv"),
            "GLIMPSE_RIDES_CONDITIONS": str(tmp_path / "conditions" / "nyc_{date}.csv"),
        }
    )
    result = dg.materialize(
        [raw_news, raw_rides], partition_key=DAY, resources=defs.resources, raise_on_error=False
    )

    assert result.success
    rides = pd.read_parquet(root / "raw_rides" / f"{DAY}.parquet")
    morning = rides[rides["pickup_at"].dt.hour < 12]
    afternoon = rides[rides["pickup_at"].dt.hour >= 15]
    assert set(morning["weather"].astype(str)) == {"Snow showers."}
    assert set(afternoon["weather"].astype(str)) == {"Clearing skies."}
    assert set(rides["traffic"].astype(str)) == {"Slow on the FDR Drive."}
    assert all(
        source.startswith(f"{conditions}, observed ")
        for source in rides["weather_from"].astype(str).unique()
    )
    assert metadata_of(result, "raw_rides")["conditions_source"] == str(
        tmp_path / "conditions" / "nyc_{date}.csv"
    )


@pytest.mark.parametrize("value", ["sunny", "/data/weather_{date}.json"])
def test_a_bad_conditions_setting_fails_the_load_naming_it(value):
    with pytest.raises(ConfigurationError) as raised:
        build_definitions({"GLIMPSE_RIDES_CONDITIONS": value})
    message = str(raised.value)
    assert message.startswith(f"GLIMPSE_RIDES_CONDITIONS={value!r}")
    assert "'invented', 'none' or a conditions file" in message


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "invented"),
        ({"GLIMPSE_RIDES_SOURCE": "/tlc/yellow_{date}.parquet"}, "none"),
        (
            {"GLIMPSE_RIDES_SOURCE": "/tlc/yellow_{date}.parquet", "GLIMPSE_RIDES_CONDITIONS": "x"},
            None,
        ),
        ({"GLIMPSE_RIDES_CONDITIONS": "None"}, "none"),
    ],
)
def test_the_default_conditions_are_invented_for_simulated_rides_and_none_for_real(env, expected):
    if expected is None:
        with pytest.raises(ConfigurationError):
            build_definitions(env)
        return
    source = build_definitions(env).resources["rides_source"]
    assert source.conditions_source == expected
