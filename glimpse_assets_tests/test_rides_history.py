"""The report page's 7-day history: a declared dependency on the previous 7 days of
clustered_rides (a time-window partition mapping, missing days allowed), read from storage, so it
is in the lineage and survives a fresh Dagster instance (a new DAGSTER_HOME)."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from glimpse_assets.dagster_compat import backfill_targets
from glimpse_assets.definitions import build_definitions
from glimpse_assets.news.assets import raw_news
from glimpse_assets.rides.assets import (
    HISTORY_DAYS,
    clustered_rides,
    rides_assets,
    rides_report_page,
)
from glimpse_assets.rides.report import DayRate
from glimpse_assets.rides.sources import SimulatedRidesSource
from glimpse_assets.rides.steps import history_days, stored_day_rates
from glimpse_assets_tests.support.ranges import range_tags

RIDES = 1_000
EMBEDDED_PLOT = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")


def materialize(resources: dict, instance: dg.DagsterInstance, selection=None, **kwargs):
    return dg.materialize(
        [raw_news, *rides_assets],
        selection=selection,
        instance=instance,
        resources={**resources, "rides_source": SimulatedRidesSource(rides_per_day=RIDES)},
        raise_on_error=False,
        **kwargs,
    )


def page_of(root: Path, day: str) -> str:
    return (root / "rides_report_page" / f"{day}.html").read_text("utf-8")


def counts_of(root: Path, day: str) -> tuple[int, int]:
    clustered = pd.read_parquet(root / "clustered_rides" / f"{day}.parquet")
    return len(clustered), int(clustered["is_anomaly"].sum())


def history_row(day: str, rides: int, anomalies: int) -> str:
    cells = [day, f"{rides:,}", f"{anomalies:,}", f"{anomalies / rides:.2%}"]
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def page_metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    return {
        m.partition: {k: getattr(v, "value", v) for k, v in m.metadata.items()}
        for m in result.asset_materializations_for_node("rides_report_page")
    }


@pytest.fixture
def storage_root(local_io_manager) -> Path:
    return Path(local_io_manager.object_store.storage_uri)


# -- the lineage ---------------------------------------------------------------------------------


def test_the_page_reads_its_history_without_a_partition_mapping():
    # A mapping would make a backfill of D1..Dn target the pages of the 7 days after Dn too
    # (Dagster follows mappings downstream), days it cannot make: the backfill ended Failed.
    graph = build_definitions({}).resolve_asset_graph()
    page = graph.get(rides_report_page.key)
    assert page.parent_keys == {dg.AssetKey("rides_report")}
    for parent in graph.get(clustered_rides.key).child_keys:
        mapping = graph.get_partition_mapping(parent, clustered_rides.key)
        assert isinstance(mapping, dg.IdentityPartitionMapping | dg.TimeWindowPartitionMapping)
        if isinstance(mapping, dg.TimeWindowPartitionMapping):
            assert (mapping.start_offset, mapping.end_offset) == (0, 0)
    assert HISTORY_DAYS == 7


def test_each_day_has_its_own_window_of_the_seven_days_before_it():
    assert history_days(7, date(2026, 3, 8)) == [f"2026-03-0{n}" for n in range(1, 8)]
    # The partitions start on 2026-01-01: days before it are not in the window.
    assert history_days(7, date(2026, 1, 3)) == ["2026-01-01", "2026-01-02"]
    assert history_days(7, date(2026, 1, 1)) == []


# -- read from storage, not from the event log -----------------------------------------------


@pytest.mark.slow
def test_a_fresh_instance_still_shows_the_stored_history(offline_resources, storage_root):
    days = ["2026-03-01", "2026-03-02", "2026-03-03"]
    with dg.instance_for_test() as first_home:
        for day in days[:2]:
            assert materialize(offline_resources, first_home, partition_key=day).success

    with dg.instance_for_test() as fresh_home:  # a new DAGSTER_HOME: no event log of those days
        result = materialize(offline_resources, fresh_home, partition_key=days[2])
    assert result.success

    page = page_of(storage_root, days[2])
    rows = [history_row(day, *counts_of(storage_root, day)) for day in days]
    assert all(row in page for row in rows)
    assert page.index(rows[0]) < page.index(rows[1]) < page.index(rows[2])
    metadata = page_metadata(result)[days[2]]
    assert metadata["days_compared"] == 2
    assert metadata["history_days_not_stored"] == HISTORY_DAYS - 2


@pytest.mark.slow
def test_days_never_materialised_are_skipped(offline_resources, storage_root):
    with dg.instance_for_test() as instance:
        for day in ["2026-03-01", "2026-03-03"]:  # not 2026-03-02
            assert materialize(offline_resources, instance, partition_key=day).success
    with dg.instance_for_test() as fresh_home:
        result = materialize(offline_resources, fresh_home, partition_key="2026-03-04")
    assert result.success

    page = page_of(storage_root, "2026-03-04")
    assert history_row("2026-03-01", *counts_of(storage_root, "2026-03-01")) in page
    assert history_row("2026-03-03", *counts_of(storage_root, "2026-03-03")) in page
    assert "<td>2026-03-02</td>" not in page
    assert "the mean of the previous 2 day(s)" in page
    metadata = page_metadata(result)["2026-03-04"]
    assert (metadata["days_compared"], metadata["history_days_not_stored"]) == (2, 5)


@pytest.mark.slow
def test_the_first_partition_has_no_earlier_day_to_compare(offline_resources, storage_root):
    with dg.instance_for_test() as instance:
        result = materialize(offline_resources, instance, partition_key="2026-01-01")
    assert result.success
    page = page_of(storage_root, "2026-01-01")
    assert "No earlier day in the previous 7 has a stored anomaly rate" in page
    metadata = page_metadata(result)["2026-01-01"]
    assert (metadata["days_compared"], metadata["history_days_not_stored"]) == (0, 0)


# -- range runs: each day its own window ----------------------------------------------------------


@pytest.mark.slow
def test_a_range_run_of_the_page_alone_gives_each_day_its_own_window(
    offline_resources, storage_root
):
    days = ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"]
    with dg.instance_for_test() as instance:
        for day in days:
            assert materialize(offline_resources, instance, partition_key=day).success
    by_day = {day: EMBEDDED_PLOT.sub("", page_of(storage_root, day)) for day in days}
    for day in days:
        (storage_root / "rides_report_page" / f"{day}.html").unlink()

    with dg.instance_for_test() as fresh_home:
        result = materialize(
            offline_resources,
            fresh_home,
            selection=[rides_report_page],
            tags=range_tags(days[0], days[-1]),
        )
    assert result.success

    for day in days:
        assert EMBEDDED_PLOT.sub("", page_of(storage_root, day)) == by_day[day], day
    metadata = page_metadata(result)
    assert [metadata[day]["days_compared"] for day in days] == [0, 1, 2, 3, 4]
    # 2026-03-03 compares with the two days before it, not with the later days of the range.
    page = page_of(storage_root, days[2])
    assert "<td>2026-03-02</td>" in page and "<td>2026-03-04</td>" not in page


# -- the reader ---------------------------------------------------------------------------------


def test_the_reader_needs_only_the_is_anomaly_column_and_skips_missing_days(local_store):
    frame = pd.DataFrame({"is_anomaly": [True, False, False, True, False]})
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    local_store.store.put("clustered_rides/2026-03-02.parquet", buffer.getvalue())

    rates = stored_day_rates(local_store.store, clustered_rides.key, ["2026-03-01", "2026-03-02"])

    assert rates == [DayRate("2026-03-02", 5, 2)]


def test_a_ui_backfill_of_every_asset_targets_exactly_its_days(offline_resources):
    """No mapping pulls in days the backfill cannot make: every asset, the page included, is
    targeted for D1..D3 and nothing else (a 7-day window mapping used to add the 7 pages after
    D3, and the backfill ended Failed)."""
    graph = build_definitions({}).resolve_asset_graph()
    days = ["2026-03-01", "2026-03-02", "2026-03-03"]
    as_of = pd.Timestamp("2026-06-01", tz="UTC").to_pydatetime()

    targeted = backfill_targets(graph, graph.get_all_asset_keys(), days, as_of)

    assert len(targeted) == 17
    assert targeted == {name: days for name in targeted}


@pytest.mark.slow
def test_a_page_range_skips_the_days_whose_report_was_never_made(offline_resources, storage_root):
    days = ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"]
    with dg.instance_for_test() as instance:
        for day in days[:3]:
            assert materialize(offline_resources, instance, partition_key=day).success
        before = {day: page_of(storage_root, day) for day in days[:3]}

        result = materialize(
            offline_resources,
            instance,
            selection=[rides_report_page],
            tags=range_tags(days[0], days[-1]),
        )

        assert result.success
        for day in days[:3]:
            assert EMBEDDED_PLOT.sub("", page_of(storage_root, day)) == EMBEDDED_PLOT.sub(
                "", before[day]
            )
        assert not (storage_root / "rides_report_page" / f"{days[3]}.html").exists()
        recorded = {
            event.materialization.partition for event in result.get_asset_materialization_events()
        }
        assert recorded == set(days[:3])
        logged = [entry.user_message for entry in instance.all_logs(result.run_id)]
        assert any(
            "skipped" in line and "2026-03-04" in line and "rides_report is not stored" in line
            for line in logged
        )


def test_a_page_range_with_no_report_at_all_succeeds_storing_nothing(
    offline_resources, storage_root
):
    with dg.instance_for_test() as instance:
        result = materialize(
            offline_resources,
            instance,
            selection=[rides_report_page],
            tags=range_tags("2026-03-04", "2026-03-10"),
        )

    assert result.success
    assert result.get_asset_materialization_events() == []
    assert not (storage_root / "rides_report_page").exists()
